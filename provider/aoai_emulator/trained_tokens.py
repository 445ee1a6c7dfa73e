"""The tokens a job trains on per epoch: counted exactly, with the provider's own tokenizer and example rules.

The service bills a job for the training file's tokens x epochs and reports them as ``trained_tokens``. The
emulator counts them with ``pulumi_aoai_finetuning.tokens`` (one implementation, imported one way: the
provider never imports the emulator), in the encoding of the job's model, so a FineTuningJob's estimate at
preview equals the emulator's ``trained_tokens`` for a fixed ``n_epochs`` and can be tested. A count is kept
on the file per encoding: a file trained on twice is counted once.

Counting runs at about 35 MB/s: seconds for a file of hundreds of megabytes. The request that creates a job
counts its training file first, without the service lock (:func:`due_token_counts`, :class:`TokenBook`), and
the create under the lock only reads the number; a count it finds missing (a race with a new upload) is
made there, as before.
"""

from __future__ import annotations

from collections.abc import Callable

from pulumi_aoai_finetuning.encodings import UnknownModelError, encoding_for_model
from pulumi_aoai_finetuning.tokens import TokenCountError, count_stream

from .blob_book import BlobBook
from .blobs import Blob
from .state import Obj

Count = Callable[[Blob, str], int]


def count_blob(blob: Blob, encoding: str) -> int:
    """The training tokens of the examples in ``blob``, in ``encoding``, wherever its bytes are."""
    with blob.open() as stream:
        return count_stream(stream, encoding, display="the training file").tokens


class TokenBook(BlobBook[str, int]):
    """Training-token counts by blob identity and encoding; each counted by one thread, outside the lock."""

    def __init__(self, count: Count | None = None) -> None:
        super().__init__()
        self.count: Count = count or count_blob

    def compute(self, blob: Blob, arg: str) -> int:
        """The tokens of ``blob`` in encoding ``arg``, by the book's count."""
        return self.count(blob, arg)


def encoding_of(model: str) -> str | None:
    """The encoding ``model`` trains in, or None for a model of no known one."""
    try:
        return encoding_for_model(model)
    except UnknownModelError:
        return None


def tokens_per_epoch(file: Obj, blob: Blob | None, model: str, book: TokenBook) -> int:
    """The training file's tokens in ``model``'s encoding (the upload's rough count for a model of no known one)."""
    encoding = encoding_of(model)
    if encoding is None:
        return int(file["_tokens"])
    counts: dict[str, int] = file.setdefault("_token_counts", {})
    if encoding not in counts:
        if blob is None:
            return int(file["_tokens"])  # the blob is gone: the verdict's figure, as before
        try:
            counts[encoding] = book.get(blob, encoding)
        except (OSError, TokenCountError):
            return int(file["_tokens"])  # a blob gone or unreadable: the verdict's figure, as before
    return counts[encoding]
