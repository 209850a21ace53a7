"""sslab: label-efficient vision and neural-audio experiments, end to end."""

__version__ = "0.1.0"
