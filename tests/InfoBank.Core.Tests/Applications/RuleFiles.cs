using InfoBank.Core.Applications;
using InfoBank.Core.Rules;

namespace InfoBank.Core.Tests.Applications;

/// <summary>The repository's own rule files, copied next to the test assembly by the build.</summary>
internal static class RuleFiles
{
    public static string Root => AppContext.BaseDirectory;

    public static string Pia => Path.Combine(Root, "pia");

    public static string Policies => Path.Combine(Root, "policies");

    public static readonly Lazy<RuleCatalog> Shipped = new(() => RuleCatalog.Load(Pia, Policies));

    public static ApplicationSpec Example(string name)
    {
        var file = YamlFile.Load(Path.Combine(Pia, "examples", name + ".yaml"), name);
        return ApplicationSpecYaml.Parse(file, file.Root!);
    }

    /// <summary>A scratch copy of the rule folders a test can break without touching the shipped files.</summary>
    public static string CopyToTemp()
    {
        var target = Path.Combine(Path.GetTempPath(), "infobank-rules", Guid.NewGuid().ToString("N"));
        foreach (var folder in new[] { "pia", "policies" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, folder), "*.yaml", SearchOption.AllDirectories))
            {
                var destination = Path.Combine(target, Path.GetRelativePath(Root, file));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }
        }
        return target;
    }
}
