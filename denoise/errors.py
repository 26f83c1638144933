"""Errors a user can act on: a bad input file, a model result that cannot be trusted, or an output
the SDK refuses to write.

Every message is one line that names the file and says what to do; the CLI prints it as is.
All derive from the built-in family a caller would already catch (ValueError for bad data,
OSError for the file system).
"""
from __future__ import annotations


class InputError(ValueError):
    """An input file the SDK cannot read as a Bayer RAW image."""


class MissingInputError(InputError):
    """The input path does not exist or is not a file."""


class EmptyInputError(InputError):
    """The input file has zero bytes."""


class UnsupportedFormatError(InputError):
    """The extension is not a RAW format, or LibRaw cannot decode the content."""


class CorruptInputError(InputError):
    """LibRaw recognised the format but the data is truncated or damaged."""


class NotBayerError(InputError):
    """A RAW file whose sensor is not a 2×2 Bayer CFA (X-Trans, Foveon, linear DNG, monochrome)."""


class ImageTooSmallError(InputError):
    """A RAW image too small to denoise."""


class ModelOutputError(ValueError):
    """The model returned NaN or infinite values for a file: there is no trustworthy result to write."""


class OutputError(OSError):
    """An output the SDK will not or cannot write (same file as the input, unwritable folder)."""
