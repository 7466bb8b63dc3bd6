"""Long-running workers for containers (the Lambda functions' jobs without Lambda)."""
