"""Reading summary.json in tests: a metric is its value, or ``{value, value_ci, status}`` where
it has an interval (:func:`psychobench.consistency.table.summary_view`)."""


def value(entry):
    """The number of a summary entry, with or without its interval."""
    return entry["value"] if isinstance(entry, dict) else entry


def values(mapping: dict) -> dict:
    """``{key: value(entry)}`` of a block such as ``by_condition.accuracy``."""
    return {k: value(v) for k, v in mapping.items()}
