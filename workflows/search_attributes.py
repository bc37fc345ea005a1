"""Search attributes set on every workflow so operators find work by document. No personal data here."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SITE = SearchAttributeKey.for_keyword("DuesflowSite")
DOCTYPE = SearchAttributeKey.for_keyword("DuesflowDoctype")
DOCUMENT = SearchAttributeKey.for_keyword("DuesflowDocument")
STATE = SearchAttributeKey.for_keyword("DuesflowState")

ALL = (SITE, DOCTYPE, DOCUMENT, STATE)

# name -> type, as `temporal server start-dev --search-attribute Name=Type` and the operator API want them.
REGISTRATION: dict[str, str] = {key.name: "Keyword" for key in ALL}
