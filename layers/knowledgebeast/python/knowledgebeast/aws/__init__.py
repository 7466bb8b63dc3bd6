"""AWS glue for the Lambda functions, kept out of the handlers so it can be tested without Lambda.

- :mod:`~knowledgebeast.aws.http_events`: API Gateway / Function URL events -> the app's paths.
- :mod:`~knowledgebeast.aws.s3_events`: S3 notifications (via SQS) -> ingest or delete.
- :mod:`~knowledgebeast.aws.runtime`: what every function does once per container.
"""
