"""AWS CDK (v2) stacks for KnowledgeBeast; ``app_builder.build_app`` assembles them."""
