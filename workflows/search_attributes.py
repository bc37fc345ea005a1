"""Search attributes set on every workflow so operators find work by document. No personal data here: the
submitting ERP user (usually an e-mail address) appears only as a pseudonymous key (domain.users.user_key)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SITE = SearchAttributeKey.for_keyword("DuesflowSite")
DOCTYPE = SearchAttributeKey.for_keyword("DuesflowDoctype")
DOCUMENT = SearchAttributeKey.for_keyword("DuesflowDocument")
STATE = SearchAttributeKey.for_keyword("DuesflowState")
USER = SearchAttributeKey.for_keyword("DuesflowUser")
# Member ids of the ERP (MEM-…), known once step 1 has decided; set with the verdict's state in one upsert.
MEMBERS = SearchAttributeKey.for_keyword_list("DuesflowMembers")
# The background steps that failed, so an operator can batch-reset "all failed sepa steps" after a fix.
FAILED_STEPS = SearchAttributeKey.for_keyword_list("DuesflowFailedSteps")

ALL = (SITE, DOCTYPE, DOCUMENT, STATE, USER, MEMBERS, FAILED_STEPS)

# name -> type, as `temporal server start-dev --search-attribute Name=Type` and the operator API want them.
REGISTRATION: dict[str, str] = {key.name: "KeywordList" if key in (MEMBERS, FAILED_STEPS) else "Keyword" for key in ALL}
