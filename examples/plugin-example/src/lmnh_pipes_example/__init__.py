"""An example third-party plug-in for lmnh-pipes: one validator, ``no_test_sites``.

After ``pip install examples/plugin-example`` it appears in ``lmnh-pipes plugins`` and can be used in any
pipeline file::

    validators:
      - {type: json}
      - {type: no_test_sites, field: site, test_sites: ["99"]}
"""

from __future__ import annotations

import attrs

from lmnh_pipes import Record, Registry, hookimpl, option_doc


@attrs.frozen(kw_only=True)
class NoTestSites:
    """Reject records from kiosks that are only used for testing (``test_sites``, looked up in ``field``)."""

    # option_doc gives each option the line that `lmnh-pipes plugins no_test_sites` and `lmnh-pipes schema` show.
    test_sites: list[str] = attrs.field(metadata=option_doc("the sites whose records are rejected"))
    field: str = attrs.field(default="site", metadata=option_doc("the field that holds the site"))
    name: str = attrs.field(
        default="no_test_sites", metadata=option_doc("what a rejection carries as reject.validator")
    )

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
