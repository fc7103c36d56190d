using System.Security.Cryptography;
using System.Text.Json;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// One version of the custody terms a resident agrees to when enrolling. Enrolment must name the
/// version and content hash of the text the resident was shown, so an agreement always points at
/// exact words. <paramref name="Material"/> says whether the version changed what residents agreed
/// to: after a material version, residents who agreed to an earlier one must agree again before
/// anything more is deposited for them.
/// </summary>
public sealed record CustodyTerms(string Version, DateOnly EffectiveFrom, bool Material, TermsChanges Changes, string Text)
{
    public string Hash { get; } = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Text)));

    /// <summary>The current version of the terms shipped with the service (<see cref="CustodyTermsCatalog.Embedded"/>).</summary>
    public static CustodyTerms Current => CustodyTermsCatalog.Embedded.Current;
}

/// <summary>What a version changed, in the words residents read (Japanese and English).</summary>
public sealed record TermsChanges(string Ja, string En);

/// <summary>
/// Every version of the custody terms, oldest first; the last is current. Old versions stay
/// readable so an agreement can always be shown in the words it was given to.
/// </summary>
public sealed class CustodyTermsCatalog
{
    public CustodyTermsCatalog(IReadOnlyList<CustodyTerms> versions)
    {
        if (versions.Count == 0)
        {
            throw new ArgumentException("The custody terms need at least one version.", nameof(versions));
        }
        if (versions.Select(v => v.Version).Distinct(StringComparer.Ordinal).Count() != versions.Count
            || versions.Zip(versions.Skip(1)).Any(p => p.Second.EffectiveFrom < p.First.EffectiveFrom))
        {
            throw new ArgumentException("Custody terms versions are unique and listed in the order they took effect.", nameof(versions));
        }
        Versions = versions;
    }

    /// <summary>The terms as shipped: <c>Features/Custody/Terms/versions.json</c> and one Markdown file per version.</summary>
    public static CustodyTermsCatalog Embedded { get; } = Load();

    public IReadOnlyList<CustodyTerms> Versions { get; }

    public CustodyTerms Current => Versions[^1];

    public CustodyTerms? Find(string version) => Versions.FirstOrDefault(v => v.Version == version);

    /// <summary>
    /// The latest material version after the one the resident agreed to, or null when their
    /// agreement still covers the current terms (only editorial versions since, or none).
    /// An agreement to a version this catalogue does not know is treated as outdated.
    /// </summary>
    public CustodyTerms? AgreementNeeded(string agreedVersion)
    {
        var index = Versions.ToList().FindIndex(v => v.Version == agreedVersion);
        return index < 0 ? Current : Versions.Skip(index + 1).LastOrDefault(v => v.Material);
    }

    /// <summary>Versions whose agreement is still enough to deposit: the current one and any back to the last material version.</summary>
    public IReadOnlyList<string> StillAgreed()
    {
        var lastMaterial = Versions.ToList().FindLastIndex(v => v.Material);
        return [.. Versions.Skip(Math.Max(lastMaterial, 0)).Select(v => v.Version)];
    }

    private static CustodyTermsCatalog Load()
    {
        var entries = JsonSerializer.Deserialize<List<VersionEntry>>(Resource("versions.json"), new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidOperationException("The custody terms index is empty.");
        return new CustodyTermsCatalog([.. entries.Select(e => new CustodyTerms(
            e.Version, DateOnly.ParseExact(e.EffectiveFrom, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            e.Material, new TermsChanges(e.Changes.Ja, e.Changes.En), Resource(e.Version + ".md")))]);
    }

    private static string Resource(string name)
    {
        using var stream = typeof(CustodyTermsCatalog).Assembly.GetManifestResourceStream("InfoBank.Server.Features.Custody.Terms." + name)
            ?? throw new InvalidOperationException($"The custody terms file {name} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed record VersionEntry(string Version, string EffectiveFrom, bool Material, TermsChanges Changes);
}
