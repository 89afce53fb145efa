"""``python -m lmnh_pipes`` is ``lmnh-pipes``."""

from .cli import main

main(prog_name="lmnh-pipes")
