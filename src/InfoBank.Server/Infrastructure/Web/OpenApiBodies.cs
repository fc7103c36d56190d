using System.Text.Json.Nodes;
using InfoBank.Core.Applications;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Custody;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>
/// What the generated schemas cannot say about the request bodies: an example of each (the Sapporo
/// demo: a step app and a body-composition scale depositing, the fitness club asking for ward
/// statistics, the research institute's committee review), and what each member means where a
/// client could not guess it from its name. Kept beside the document setup, not on the records, so the
/// contracts stay plain records; a body without an example here fails the OpenAPI tests.
/// </summary>
internal static class OpenApiBodies
{
    /// <summary>One realistic body per request type, as a client sends it.</summary>
    public static readonly IReadOnlyDictionary<Type, string> Examples = new Dictionary<Type, string>
    {
        [typeof(GiveConsentRequest)] = """
            {
              "offerId": "0193a7c2-5f1e-7b3a-9c4d-2e8f6a1b3c5d",
              "noticeVersion": 2,
              "noticeHash": "sha-256:9f2b5c0e7a1d4f3b8c6e2a9d0b7f5e3c1a8d6b4f2e0c9a7b5d3f1e8c6a4b2d0f",
              "specialCareItems": ["body.composition"],
              "lookbackDays": 30
            }
            """,
        [typeof(EnrollmentRequest)] = """
            { "termsVersion": "2026-12", "termsHash": "sha256:4c1e9a7b5d3f1e8c6a4b2d0f9f2b5c0e7a1d4f3b8c6e2a9d0b7f5e3c1a8d6b2a", "agree": true }
            """,
        [typeof(LinkRequest)] = """
            { "categories": ["steps.daily"] }
            """,
        [typeof(EraseRequest)] = """
            { "confirmAccount": "hanako.sato" }
            """,
        [typeof(DepositRequest)] = """
            {
              "records": [
                {
                  "resident": "rr_5kq2m8x4v7c1n9b3",
                  "category": "steps.daily",
                  "observedAt": "2026-11-30T00:00:00+09:00",
                  "payload": { "steps": 8412, "distanceMeters": 6120.5, "activeMinutes": 47 },
                  "sourceRecordId": "stepapp-20261130-5kq2"
                },
                {
                  "resident": "rr_5kq2m8x4v7c1n9b3",
                  "category": "body.composition",
                  "observedAt": "2026-11-30T07:15:00+09:00",
                  "payload": { "weightKg": 61.8, "heightCm": 166.0, "bmi": 22.4, "bodyFatPercent": 24.1, "muscleRatePercent": 33.5 },
                  "sourceRecordId": "scale-7f3a-000912"
                }
              ]
            }
            """,
        [typeof(AggregateRequest)] = """
            {
              "category": "steps.daily",
              "groupBy": ["week"],
              "measures": [
                { "function": "count", "field": null },
                { "function": "median", "field": "steps" },
                { "function": "mean", "field": "activeMinutes" }
              ],
              "filters": {}
            }
            """,
        [typeof(ApplicationSpec)] = """
            {
              "purpose": {
                "code": "dpv:ServiceOptimisation",
                "text": {
                  "ja": "区・年代別の歩数統計を用いて、新しいクラブの立地とプログラムを計画します。",
                  "en": "Plan new club locations and programmes from step statistics by ward and age band."
                }
              },
              "data": [ { "category": "steps.daily", "fields": ["steps", "activeMinutes"] } ],
              "output": { "kind": "aggregate", "k": 10, "subjectId": null },
              "fetch": { "frequency": "monthly", "maxRecordsPerFetch": null },
              "retentionDays": 365,
              "recipient": { "country": "JP" },
              "onwardProvision": { "enabled": false, "recipients": null },
              "security": { "isms": true, "privacyMark": true, "encryptionAtRest": true, "encryptionInTransit": true, "accessLogging": true },
              "profiling": { "profiling": false, "automatedDecisions": false },
              "benefit": { "points": 200, "description": { "ja": "毎月200ポイントとクラブ体験券", "en": "200 points a month and a free club trial" } },
              "validityDays": 180,
              "consentMode": "explicit",
              "lookbackDays": 30
            }
            """,
        [typeof(VoteRequest)] = """
            {
              "vote": "approve_with_conditions",
              "reason": "The research institute needs record-level body composition for its cohort study; pseudonyms per recipient and encryption are attested.",
              "conditions": ["Delete the records when the study ends and report the deletion to the committee."]
            }
            """,
        [typeof(DecisionRequest)] = """
            { "note": "Approved by the committee with the member's condition on deletion." }
            """,
        [typeof(GrantActionRequest)] = """
            { "reason": "The fitness club reported a suspected leak of its analytics workstation; suspended until it is investigated." }
            """,
    };

    /// <summary>The key under which a type's own description stands.</summary>
    public const string SchemaItself = "$";

    /// <summary>What a member means, by request type and JSON name, where its name and type do not say it.</summary>
    public static readonly IReadOnlyDictionary<Type, IReadOnlyDictionary<string, string>> Descriptions = new Dictionary<Type, IReadOnlyDictionary<string, string>>
    {
        [typeof(GiveConsentRequest)] = new Dictionary<string, string>
        {
            ["offerId"] = "The offer consented to (GET /api/v1/offers).",
            ["noticeVersion"] = "The version of the offer's notice the resident read; it must be the current one (`notice-not-current` otherwise).",
            ["noticeHash"] = "Optional: the notice's content hash as shown with it, so a notice changed in between is refused rather than agreed to.",
            ["specialCareItems"] = "For an offer involving special-care data: each of its special-care items (categories such as `body.composition`, as the offer lists them), named explicitly (`special-care-not-named` otherwise). Omit for other offers.",
            ["lookbackDays"] = "Optional: the data window agreed to, in days before the first consent. It must be the offer's (`dataWindow`); omitted, the offer's applies.",
        },
        [typeof(EnrollmentRequest)] = new Dictionary<string, string>
        {
            ["termsVersion"] = "The version of the custody terms shown to the resident (GET /api/v1/custody/terms).",
            ["termsHash"] = "The content hash of those terms, as GET /api/v1/custody/terms gives it.",
            ["agree"] = "The resident's explicit agreement: must be true.",
        },
        [typeof(LinkRequest)] = new Dictionary<string, string>
        {
            ["categories"] = "The data categories the source may deposit (names from GET /api/v1/inventory): at least one, none twice.",
        },
        [typeof(EraseRequest)] = new Dictionary<string, string>
        {
            ["confirmAccount"] = "The username the resident signs in with, exactly: confirms the irreversible erasure.",
        },
        [typeof(DepositRequest)] = new Dictionary<string, string>
        {
            ["records"] = "The batch: stored all together (or reported duplicate) or not at all. At most `Custody:MaxBatchRecords` records.",
        },
        [typeof(DepositRecord)] = new Dictionary<string, string>
        {
            [SchemaItself] = "One record for one resident, of one category.",
            ["resident"] = "The pseudonymous reference (`rr_…`) the resident's link to this data source returned (PUT /api/v1/me/sources/{clientId}).",
            ["category"] = "A category of the data inventory (GET /api/v1/inventory) the resident authorised this source to deposit.",
            ["observedAt"] = "When the data was observed (RFC 3339, with offset); not in the future, and within the category's retention.",
            ["payload"] = "The category's fields as the inventory defines them (names, types, ranges; GET /api/v1/inventory); unknown fields are refused.",
            ["sourceRecordId"] = "The source's own id for the record (at most 128 characters): a record sent again with the same id is reported `duplicate`, not stored twice.",
        },
        [typeof(AggregateRequest)] = new Dictionary<string, string>
        {
            ["category"] = "One of the grant's approved categories.",
            ["groupBy"] = "Dimensions to group by: the period `week`, and the grant's approved fields that take listed values (such as a ward).",
            ["measures"] = "The figures wanted: `count`, or `sum`, `mean` or `median` of an approved numeric field.",
            ["filters"] = "Values to keep, per approved dimension; `{}` or null for none.",
        },
        [typeof(ApplicationSpec)] = new Dictionary<string, string>
        {
            ["purpose"] = "A purpose code from the vocabulary (`pia/purposes.yaml`, W3C DPV) and the business's own words in Japanese and English.",
            ["data"] = "Each category with the fields the purpose needs.",
            ["output"] = "`record` or `aggregate` (with `k`, the minimum group size); for records, how residents are identified (`subjectId`).",
            ["fetch"] = "How often the business fetches (`once`, `daily`, `weekly`, `monthly`) and, for records, at most how many per fetch.",
            ["retentionDays"] = "How long the business keeps what it receives.",
            ["recipient"] = "Where the data goes (ISO 3166 country code).",
            ["onwardProvision"] = "Whether, and to whom, the business passes the data on.",
            ["security"] = "The safeguards the business attests to.",
            ["profiling"] = "Whether the data is used for profiling or automated decisions about residents.",
            ["benefit"] = "What a resident receives for opting in (points and words in both languages).",
            ["validityDays"] = "How long the grant would last; capped by the committee policy.",
            ["consentMode"] = "`explicit` (opt-in; required for special-care data) or `opt_out`.",
            ["lookbackDays"] = "The offer's data window: how many days before a resident's first consent the data may reach back (0 to 365; 0, the default, from the day they consent).",
        },
        [typeof(OutputSpec)] = new Dictionary<string, string>
        {
            ["kind"] = "`record` (records of consenting residents) or `aggregate` (counts and figures only).",
            ["k"] = "For `aggregate`: the minimum number of residents in a group; smaller groups are suppressed.",
            ["subjectId"] = "For `record`: how residents are identified (`pseudonymous_per_recipient`, `resident_id` or `none`).",
        },
        [typeof(FetchSpec)] = new Dictionary<string, string>
        {
            ["frequency"] = "How often the business may fetch: `once`, `daily`, `weekly` or `monthly`.",
            ["maxRecordsPerFetch"] = "For `record` output: at most how many records one fetch provides.",
        },
        [typeof(VoteRequest)] = new Dictionary<string, string>
        {
            ["vote"] = "`approve`, `approve_with_conditions` or `reject`.",
            ["reason"] = "Why, in words (at most 2000 characters): kept in the application's history and the audit log.",
            ["conditions"] = "With `approve_with_conditions` only: at least one, at most 20 of 500 characters each.",
        },
        [typeof(DecisionRequest)] = new Dictionary<string, string>
        {
            ["note"] = "Optional: the decider's note (at most 2000 characters).",
        },
        [typeof(GrantActionRequest)] = new Dictionary<string, string>
        {
            ["reason"] = "Why (required, at most 2000 characters): kept with the grant and in the audit log.",
        },
    };

    public static JsonNode? ExampleOf(Type type) => Examples.TryGetValue(type, out var json) ? JsonNode.Parse(json) : null;
}
