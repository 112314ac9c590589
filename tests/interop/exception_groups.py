"""Shared by the Python clients in this folder: the SDKs run their I/O in anyio task groups, which
wrap a failure raised inside them in (nested) exception groups."""


def find_in_groups(error: BaseException, kind: type) -> BaseException | None:
    """The first exception of type `kind` in `error` or the exception groups around it."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = find_in_groups(inner, kind)
            if found is not None:
                return found
    return None
