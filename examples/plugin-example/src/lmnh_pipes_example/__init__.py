"""An example third-party plug-in for lmnh-pipes: one validator, ``no_test_sites``.

After ``pip install examples/plugin-example`` it appears in ``lmnh-pipes plugins`` and can be used in any
pipeline file::

    validators:
      - {type: json}
      - {type: no_test_sites, field: site, test_sites: ["99"]}
"""

from __future__ import annotations

import attrs

from lmnh_pipes import Record, Registry, hookimpl


@attrs.frozen(kw_only=True)
class NoTestSites:
    """Reject records from kiosks that are only used for testing (``test_sites``, looked up in ``field``)."""

    test_sites: list[str]
    field: str = "site"
    name: str = "no_test_sites"

    def open(self) -> None:
        return None

    def validate(self, record: Record) -> Record:
        site = record.get(self.field, None)
        if site in self.test_sites:
            return record.rejected_by(self.name, f"{self.field} {site!r} is a test kiosk", "test_site")
        return record

    def close(self) -> None:
        return None


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``no_test_sites`` validator."""
    registry.add_validator("no_test_sites", NoTestSites)
