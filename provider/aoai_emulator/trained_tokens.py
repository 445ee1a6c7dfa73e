"""The tokens a job trains on per epoch: counted exactly, with the provider's own tokenizer and example rules.

The service bills a job for the training file's tokens x epochs and reports them as ``trained_tokens``. The
emulator counts them with ``pulumi_aoai_finetuning.tokens`` (one implementation, imported one way: the
provider never imports the emulator), in the encoding of the job's model, so a FineTuningJob's estimate at
preview equals the emulator's ``trained_tokens`` for a fixed ``n_epochs`` and can be tested. A count is kept
on the file per encoding: a file trained on twice is counted once.

The count runs when the job is created, under the service lock, at about 35 MB/s: nothing for the datasets
tests train on, but a job on a file of hundreds of megabytes holds every account's requests for seconds.
"""

from __future__ import annotations

from pulumi_aoai_finetuning.encodings import UnknownModelError, encoding_for_model
from pulumi_aoai_finetuning.tokens import TokenCountError, count_stream

from .blobs import Blob
from .state import Obj


def tokens_per_epoch(file: Obj, blob: Blob | None, model: str) -> int:
    """The training file's tokens in ``model``'s encoding (the upload's rough count for a model of no known one)."""
    try:
        encoding = encoding_for_model(model)
    except UnknownModelError:
        return int(file["_tokens"])
    counts: dict[str, int] = file.setdefault("_token_counts", {})
    if encoding not in counts:
        if blob is None:
            return int(file["_tokens"])  # the blob is gone: the verdict's figure, as before
        try:
            with blob.open() as stream:
                counts[encoding] = count_stream(stream, encoding, display=str(file["id"])).tokens
        except (OSError, TokenCountError):
            return int(file["_tokens"])  # a blob gone or unreadable: the verdict's figure, as before
    return counts[encoding]
