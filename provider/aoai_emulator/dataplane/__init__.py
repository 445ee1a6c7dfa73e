"""The Azure OpenAI data plane: files, fine-tuning jobs, checkpoint copies, models, minimal inference."""
