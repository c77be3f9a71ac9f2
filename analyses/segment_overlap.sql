{#- Segment overlap audit: for every pair of segments, how many persons are in
    both, the Jaccard index, and the share of each segment inside the other.
    Segments that overlap heavily target nearly the same people: merge them,
    or let priority decide which message they get.
    Run: dbt compile --select segment_overlap, then query
    target/compiled/mailroom/analyses/segment_overlap.sql. -#}
with

memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

segments as (
    select * from {{ ref('dim_segments') }}
),

pairs as (
    select
        left_members.segment_id,
        right_members.segment_id as other_segment_id,
        count(*) as shared_member_count
    from memberships as left_members
    inner join memberships as right_members
        on
            left_members.person_id = right_members.person_id
            and left_members.segment_id < right_members.segment_id
    group by 1, 2
),

final as (
    select
        pairs.segment_id,
        pairs.other_segment_id,
        segments.member_count,
        other_segments.member_count as other_member_count,
        pairs.shared_member_count,
        1.0 * pairs.shared_member_count
        / (segments.member_count + other_segments.member_count - pairs.shared_member_count) as jaccard,
        1.0 * pairs.shared_member_count / segments.member_count as share_of_segment,
        1.0 * pairs.shared_member_count / other_segments.member_count as share_of_other_segment
    from pairs
    inner join segments
        on pairs.segment_id = segments.segment_id
    inner join segments as other_segments
        on pairs.other_segment_id = other_segments.segment_id
)

select * from final
order by 6 desc  -- jaccard
