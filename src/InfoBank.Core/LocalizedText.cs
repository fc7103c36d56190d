using System.Text.Json.Serialization;

namespace InfoBank.Core;

/// <summary>
/// Text shown to people in both languages the service speaks, Japanese first (ISO/IEC 29184: plain
/// language). One type for every such text: rule files, notices, receipts and API answers alike.
/// </summary>
public sealed record LocalizedText(
    [property: JsonPropertyName("ja")] string Ja,
    [property: JsonPropertyName("en")] string En);
