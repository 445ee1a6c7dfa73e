"""Azure Resource Manager for ``Microsoft.CognitiveServices``: resource groups, accounts, deployments, operations."""
