using System.Security.Cryptography;
using System.Text.Json;

namespace InfoBank.Core.Consent;

/// <summary>What a recipient may receive: single records, or only aggregates over many residents.</summary>
public enum Granularity
{
    RecordLevel,
    AggregateOnly,
}

/// <summary>The business that receives the data (APPI Art. 28: a foreign recipient's country is part of the notice).</summary>
public sealed record Recipient(string ClientId, string Name, string Country);

/// <summary>
/// The privacy notice of an offer (ISO/IEC 29184 contents): who receives which items, why, at what
/// granularity, for how long, what the resident gets, how to withdraw, and from when on the data
/// provided was observed (<paramref name="LookbackDays"/>, see <see cref="NoticeDataWindow"/>). A
/// resident consents to one version of it; any change to it is a new version, which needs new consent.
/// </summary>
/// <param name="LookbackDays">How many days before the resident's first consent the data provided may
/// reach back; 0 means from the day they consent. Null only in notices published before notices stated
/// their data window: provision treats it as 0, and its canonical form (so its hash) stays as it was.</param>
public sealed record Notice(
    Recipient Recipient,
    string PurposeCode,
    LocalizedText PurposeText,
    IReadOnlyList<string> Items,
    IReadOnlyList<string> SpecialCareItems,
    Granularity Granularity,
    DateTimeOffset ValidFrom,
    DateTimeOffset ValidUntil,
    int RetentionDays,
    int BenefitPoints,
    LocalizedText BenefitText,
    LocalizedText WithdrawalMethod,
    int? LookbackDays = null)
{
    /// <summary>The look-back provision applies: a notice that stated none is read as "from the day you consent".</summary>
    public int EffectiveLookbackDays => LookbackDays ?? 0;
}

/// <summary>
/// The data window a notice states: data observed from <c>lookbackDays</c> before the resident's first
/// consent, then only while a consent is in force. A withdrawal is an objection for the period it
/// lasted, so giving consent again never reaches back over it (<see cref="ConsentWindows"/>).
/// </summary>
public static class NoticeDataWindow
{
    public const int MaxLookbackDays = 365;

    /// <summary>The window in plain language, as the notice shows it.</summary>
    public static LocalizedText Text(int lookbackDays) => lookbackDays == 0
        ? new LocalizedText(
            "あなたが同意した日以降のデータを提供します（同意する前のデータは提供しません）。同意を撤回していた期間のデータは、再び同意しても提供しません。",
            "Data from the day you consent onwards (nothing observed before you consent). Data observed while you had withdrawn is never provided, even if you consent again.")
        : new LocalizedText(
            $"同意の{lookbackDays}日前からのデータを提供します（最初に同意したときのみ。それより前のデータは提供しません）。同意を撤回していた期間のデータは、再び同意しても提供しません。",
            $"Data from the {lookbackDays} days before you consent and onwards (reaching back from your first consent only; nothing older). Data observed while you had withdrawn is never provided, even if you consent again.");
}

/// <summary>One field of a notice that differs between two versions, as shown to a resident asked to consent again.</summary>
public sealed record NoticeChange(string Field, string? Before, string? After);

/// <summary>
/// The canonical form of a notice and its content hash. Canonical: UTF-8 JSON, members in a fixed
/// order, no whitespace, item lists sorted (ordinal) and de-duplicated, times as UTC ISO-8601 with
/// seven fractional digits; <c>dataWindow</c> only when the notice states one (older notices keep their hash). Equal notices give equal bytes, so the hash names the notice a resident
/// saw, and a receipt can cite it.
/// </summary>
public static class NoticeCanonical
{
    public const string SchemaVersion = "infobank-notice/1";

    public static byte[] Serialize(Notice notice)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            json.WriteString("schema", SchemaVersion);
            json.WriteStartObject("recipient");
            json.WriteString("clientId", notice.Recipient.ClientId);
            json.WriteString("name", notice.Recipient.Name);
            json.WriteString("country", notice.Recipient.Country);
            json.WriteEndObject();
            json.WriteStartObject("purpose");
            json.WriteString("code", notice.PurposeCode);
            WriteText(json, "text", notice.PurposeText);
            json.WriteEndObject();
            WriteList(json, "items", notice.Items);
            WriteList(json, "specialCareItems", notice.SpecialCareItems);
            json.WriteString("granularity", notice.Granularity.ToString());
            json.WriteString("validFrom", Time(notice.ValidFrom));
            json.WriteString("validUntil", Time(notice.ValidUntil));
            if (notice.LookbackDays is { } lookback)
            {
                json.WriteStartObject("dataWindow");
                json.WriteNumber("lookbackDays", lookback);
                json.WriteEndObject();
            }
            json.WriteNumber("retentionDays", notice.RetentionDays);
            json.WriteStartObject("benefit");
            json.WriteNumber("points", notice.BenefitPoints);
            WriteText(json, "text", notice.BenefitText);
            json.WriteEndObject();
            WriteText(json, "withdrawal", notice.WithdrawalMethod);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary><c>sha-256:</c> followed by the lowercase hex SHA-256 of <see cref="Serialize"/>.</summary>
    public static string Hash(Notice notice) => "sha-256:" + Convert.ToHexStringLower(SHA256.HashData(Serialize(notice)));

    /// <summary>The fields that differ from <paramref name="before"/> to <paramref name="after"/>, in notice order.</summary>
    public static IReadOnlyList<NoticeChange> Diff(Notice before, Notice after)
    {
        var changes = new List<NoticeChange>();
        void Compare(string field, string? a, string? b)
        {
            if (!string.Equals(a, b, StringComparison.Ordinal))
            {
                changes.Add(new NoticeChange(field, a, b));
            }
        }
        Compare("recipient.clientId", before.Recipient.ClientId, after.Recipient.ClientId);
        Compare("recipient.name", before.Recipient.Name, after.Recipient.Name);
        Compare("recipient.country", before.Recipient.Country, after.Recipient.Country);
        Compare("purpose.code", before.PurposeCode, after.PurposeCode);
        Compare("purpose.text.ja", before.PurposeText.Ja, after.PurposeText.Ja);
        Compare("purpose.text.en", before.PurposeText.En, after.PurposeText.En);
        Compare("items", List(before.Items), List(after.Items));
        Compare("specialCareItems", List(before.SpecialCareItems), List(after.SpecialCareItems));
        Compare("granularity", before.Granularity.ToString(), after.Granularity.ToString());
        Compare("validFrom", Time(before.ValidFrom), Time(after.ValidFrom));
        Compare("validUntil", Time(before.ValidUntil), Time(after.ValidUntil));
        Compare("dataWindow.lookbackDays", before.LookbackDays?.ToString(System.Globalization.CultureInfo.InvariantCulture), after.LookbackDays?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Compare("retentionDays", before.RetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture), after.RetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Compare("benefit.points", before.BenefitPoints.ToString(System.Globalization.CultureInfo.InvariantCulture), after.BenefitPoints.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Compare("benefit.text.ja", before.BenefitText.Ja, after.BenefitText.Ja);
        Compare("benefit.text.en", before.BenefitText.En, after.BenefitText.En);
        Compare("withdrawal.ja", before.WithdrawalMethod.Ja, after.WithdrawalMethod.Ja);
        Compare("withdrawal.en", before.WithdrawalMethod.En, after.WithdrawalMethod.En);
        return changes;
    }

    public static IReadOnlyList<string> Normalise(IEnumerable<string> items) =>
        items.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public static string Time(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string List(IEnumerable<string> items) => string.Join(", ", Normalise(items));

    private static void WriteList(Utf8JsonWriter json, string name, IEnumerable<string> items)
    {
        json.WriteStartArray(name);
        foreach (var item in Normalise(items))
        {
            json.WriteStringValue(item);
        }
        json.WriteEndArray();
    }

    private static void WriteText(Utf8JsonWriter json, string name, LocalizedText text)
    {
        json.WriteStartObject(name);
        json.WriteString("ja", text.Ja);
        json.WriteString("en", text.En);
        json.WriteEndObject();
    }
}
