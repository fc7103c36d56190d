using System.Security.Cryptography;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// The custody terms a resident agrees to when enrolling. Enrolment must name the version and
/// content hash of the text the resident was shown, so an agreement always points at exact words.
/// </summary>
public sealed class CustodyTerms
{
    public const string CurrentVersion = "2026-11";

    private CustodyTerms(string version, string text)
    {
        Version = version;
        Text = text;
        Hash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    public string Version { get; }

    public string Text { get; }

    public string Hash { get; }

    public static CustodyTerms Current { get; } = Load();

    private static CustodyTerms Load()
    {
        using var stream = typeof(CustodyTerms).Assembly.GetManifestResourceStream("InfoBank.Server.Features.Custody.custody-terms.md")
            ?? throw new InvalidOperationException("The custody terms are missing from the build.");
        using var reader = new StreamReader(stream);
        return new CustodyTerms(CurrentVersion, reader.ReadToEnd());
    }
}
