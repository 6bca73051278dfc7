"""chargen-es: batch story art through the Gemini Batch API, exactly once."""

__version__ = "0.1.0"
