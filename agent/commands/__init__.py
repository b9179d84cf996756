"""Single-shot commands around the model: describe images or videos, detect objects, ground one element."""
