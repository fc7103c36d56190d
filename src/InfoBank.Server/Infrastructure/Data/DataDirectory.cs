namespace InfoBank.Server.Infrastructure.Data;

/// <summary>
/// The one folder that holds everything InfoBank keeps on disk: the SQLite database, the signing
/// keys, the key-ring master key, the access secret and the demo credentials. Every relative data
/// path in the configuration resolves under it; absolute paths are kept as they are. The server and
/// the CLI find it the same way, so both always work on the same files whatever folder they are
/// started from: <c>--data &lt;dir&gt;</c> on the command line, else the <c>INFOBANK_DATA</c>
/// environment variable, else the per-user default (<see cref="DefaultPath"/>).
/// </summary>
public sealed class DataDirectory
{
    /// <summary>The environment variable, and the configuration key <c>--data</c> is mapped to.</summary>
    public const string Variable = "INFOBANK_DATA";

    public const string Option = "--data";

    public DataDirectory(string path, bool isDefault)
    {
        Path = System.IO.Path.GetFullPath(path);
        IsDefault = isDefault;
    }

    /// <summary>The folder, absolute (a relative <c>--data</c> or INFOBANK_DATA is taken from the working folder).</summary>
    public string Path { get; }

    /// <summary>Whether neither <c>--data</c> nor INFOBANK_DATA named it.</summary>
    public bool IsDefault { get; }

    /// <summary>Where the folder came from, for messages that tell an operator how to change it.</summary>
    public string Origin => IsDefault ? $"the default; set {Variable} or pass {Option} to use another" : $"{Variable} / {Option}";

    public static DataDirectory FromConfiguration(IConfiguration configuration) =>
        configuration[Variable] is { Length: > 0 } configured
            ? new DataDirectory(configured, isDefault: false)
            : new DataDirectory(DefaultPath(), isDefault: true);

    /// <summary>
    /// The per-user data folder: <c>$XDG_DATA_HOME/infobank</c> or <c>~/.local/share/infobank</c> on
    /// Linux, the local application data folder elsewhere. Not the working folder: a server or CLI
    /// started from another folder must not quietly begin a new, empty bank there.
    /// </summary>
    public static string DefaultPath()
    {
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root))
        {
            throw new InvalidOperationException(
                $"No data directory: this user has no home or local application data folder. Set {Variable} or pass {Option} <dir>.");
        }
        return System.IO.Path.Combine(root, "infobank");
    }

    /// <summary>A configured data path, absolute: relative ones are taken under this folder.</summary>
    public string Resolve(string path) =>
        System.IO.Path.IsPathFullyQualified(path) ? System.IO.Path.GetFullPath(path) : System.IO.Path.GetFullPath(path, Path);

    public override string ToString() => $"{Path} ({Origin})";
}
