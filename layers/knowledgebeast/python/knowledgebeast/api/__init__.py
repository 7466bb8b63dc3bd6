"""HTTP API: one FastAPI app for uvicorn (local, EKS) and Mangum (Lambda)."""
