"""``aoai-ft``: a companion command line for datasets, training progress and training curves.

It reuses the library the resources run on: the dataset validator of ``TrainingFile.check``, the data-plane
client, the stack-config rules of ``config`` and the provider's polling backoff, so its verdicts and numbers
are the ones ``pulumi up`` acts on.
"""
