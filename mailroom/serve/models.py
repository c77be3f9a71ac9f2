"""Response shapes of the profile API: what the OpenAPI schema documents.

A profile is one flat, predictable JSON object for send-time templates
(Braze Connected Content, Klaviyo web feeds): every key is always present,
lists are lists (possibly empty), a section the person has no data for is
null, never missing. An unknown key gets the same shape with `found: false`
(`FallbackProfile`), so `{{ connected.content.subject_line }}` renders for
anyone. Snapshot publishing validates every stored document against these
models, so what the server returns (stored bytes, not re-serialized) is what
the schema says.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PropensityScore(_Model):
    score: float = Field(description="Probability of the model's outcome in its horizon.")
    decile: int = Field(description="1 for the tenth of scored people with the highest scores.")
    tier: str = Field(
        description="Tier by the configured thresholds (high/medium/low, at_risk/watch/safe)."
    )
    model_version: str = Field(description="Champion version that scored the person.")
    reasons: list[str] = Field(description="Features pushing the score up most, strongest first.")
    reasons_text: str | None = Field(
        default=None,
        description='The reasons in words with their values, e.g. "days since the last order: 12; '
        'orders in the last 365 days: 3" (null when no feature pushes the score up).',
    )


class CustomerValue(_Model):
    probability_alive: float
    expected_orders: float = Field(
        description="Expected orders in the value horizon (var value_horizon_days, 365 days by default)."
    )
    expected_revenue: float = Field(description="Reporting currency, in the value horizon.")
    expected_order_value: float = Field(description="Reporting currency.")
    expected_next_order_date: dt.date | None = Field(
        description="Date by which the next order is as likely as not; null when unlikely within the horizon."
    )
    has_insufficient_history: bool = Field(
        description="Known for too short a time: the figures are the population's for their age."
    )


class Recommendation(_Model):
    rank: int = Field(description="1 for the best recommendation.")
    product_id: str
    product_name: str | None
    category: str | None
    brand: str | None
    score: float
    source: str = Field(description="co_purchase, affinity or popularity: what contributed most.")


class ContentVariables(_Model):
    first_name: str | None
    last_viewed_category: str | None
    last_viewed_product: str | None
    last_viewed_product_id: str | None
    recommended_product: str | None


class Content(_Model):
    rule_id: str | None = Field(description="Content rule chosen (seeds/content_rules.csv).")
    content_block: str | None
    offer_code: str | None
    template_id: str | None
    subject_line: str | None = Field(description="Rendered subject line.")
    preheader: str | None = Field(description="Rendered preheader.")
    variables: ContentVariables = Field(description="The person's own values (null when missing).")
    fallback_variables: list[str] = Field(
        description="Variables the templates use that took their content_fallbacks text."
    )


class SendPreferences(_Model):
    best_send_hour_utc: int = Field(ge=0, le=23)
    send_hour_source: str = Field(
        description="personal, population (no opens), most_common or default (fallback only)."
    )
    frequency_cap_7d: int | None
    emails_delivered_7d: int | None
    sends_remaining_7d: int | None
    is_frequency_capped: bool
    is_fatigued: bool


class _ProfileFields(_Model):
    as_of_date: dt.date | None = Field(
        description="As-of date of the marts the snapshot was built from."
    )
    lifecycle_stage: str | None
    email_contactability: str | None = Field(
        description="contactable, no_consent, no_email, unsubscribed, bounced or complained."
    )
    is_email_contactable: bool
    primary_segment_id: str | None
    segment_ids: list[str] = Field(
        description="Rule-based segments, primary (highest priority) first."
    )
    cluster_label: str | None
    scores: dict[str, PropensityScore | None] = Field(
        description="One entry per propensity model in the snapshot; null when the person is not scored."
    )
    value: CustomerValue | None
    recommendations: list[Recommendation]
    content: Content
    send: SendPreferences
    audience_ids: list[str] = Field(description="Audiences the person is sendable in today.")


class KnownProfile(_ProfileFields):
    """A person the warehouse knows."""

    found: Literal[True]
    person_id: str


class FallbackProfile(_ProfileFields):
    """The answer for a key the snapshot does not hold (never seen, or erased: never said which).

    found is false; person_id, lifecycle, segments, cluster, value and
    audiences are empty; every score is null; `recommendations` are the
    recent best sellers (fct_popular_products); `content` is the default rule
    rendered with the content fallbacks (dim_profile_fallback);
    `send.best_send_hour_utc` is the population's best hour. The same bytes
    for every unknown key.
    """

    found: Literal[False]
    person_id: None = None


class AudienceMember(_Model):
    person_id: str
    email: str | None
    audience_rank: int | None = Field(
        description="Rank in the audience by its rank model, 1 first."
    )
    rank_score: float | None


class AudiencePage(_Model):
    audience_id: str
    audience_name: str | None
    as_of_date: dt.date | None
    snapshot_id: str
    sendable_count: int = Field(description="Sendable members of the audience in this snapshot.")
    limit: int
    members: list[AudienceMember] = Field(description="Ordered by person_id.")
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last."
    )


class SnapshotInfo(_Model):
    snapshot_id: str
    format_version: int
    built_at: str
    as_of_date: dt.date | None
    source_warehouse: str = Field(description="File name of the warehouse it was built from.")
    row_counts: dict[str, int]
    missing_marts: list[str]
    warnings: list[str]


class Health(_Model):
    status: Literal["ok"]
    snapshot: SnapshotInfo


class ErrorDetail(_Model):
    status: int
    code: str
    message: str


class ErrorResponse(_Model):
    error: ErrorDetail
