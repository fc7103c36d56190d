using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Applications;
using InfoBank.Core.Custody;
using InfoBank.Core.Pia;
using InfoBank.Core.Policy;

namespace InfoBank.Core.Rules;

/// <summary>
/// Every rule file the service judges applications by, loaded and validated together: the data
/// inventory and purpose vocabulary (<c>pia/</c>), the PIA rules and risk ladders, and the committee
/// policies (<c>policies/</c>). <see cref="Hash"/> identifies exactly this set of files.
/// </summary>
public sealed class RuleCatalog
{
    public const string InventoryFile = "inventory.yaml";
    public const string IdentifiabilityFile = "identifiability.yaml";
    public const string PurposesFile = "purposes.yaml";
    public const string RisksFile = "risks.yaml";

    private RuleCatalog(PiaInventory inventory, PurposeCatalog purposes, PiaRuleSet pia, PolicySet policies, string hash, IReadOnlyList<string> files)
    {
        Inventory = inventory;
        Purposes = purposes;
        Pia = pia;
        Policies = policies;
        Hash = hash;
        Files = files;
    }

    public PiaInventory Inventory { get; }

    public PurposeCatalog Purposes { get; }

    public PiaRuleSet Pia { get; }

    public PolicySet Policies { get; }

    /// <summary><c>sha256:</c> over every file's relative path and bytes, in ordinal path order.</summary>
    public string Hash { get; }

    public IReadOnlyList<string> Files { get; }

    /// <summary>
    /// Loads everything; a malformed file throws <see cref="RuleFileException"/> naming file and line,
    /// so the server refuses to start rather than judge by half a rule set.
    /// </summary>
    public static RuleCatalog Load(string piaDirectory, string policiesDirectory)
    {
        if (!Directory.Exists(piaDirectory))
        {
            throw new RuleFileException(piaDirectory, 0, "the PIA folder does not exist");
        }
        if (!Directory.Exists(policiesDirectory))
        {
            throw new RuleFileException(policiesDirectory, 0, "the policies folder does not exist");
        }
        var files = new List<(string Name, string FullPath)>();
        void Require(string name, string full)
        {
            if (!File.Exists(full))
            {
                throw new RuleFileException(name, 0, "required file is missing");
            }
            files.Add((name, full));
        }
        Require("pia/" + InventoryFile, Path.Combine(piaDirectory, InventoryFile));
        Require("pia/" + IdentifiabilityFile, Path.Combine(piaDirectory, IdentifiabilityFile));
        Require("pia/" + PurposesFile, Path.Combine(piaDirectory, PurposesFile));
        Require("pia/" + RisksFile, Path.Combine(piaDirectory, RisksFile));
        var rulesDirectory = Path.Combine(piaDirectory, "rules");
        var ruleFiles = Directory.Exists(rulesDirectory) ? YamlIn(rulesDirectory).Select(f => ("pia/rules/" + Path.GetFileName(f), f)).ToList() : [];
        if (ruleFiles.Count == 0)
        {
            throw new RuleFileException("pia/rules/", 0, "no PIA rule files (*.yaml)");
        }
        files.AddRange(ruleFiles);
        var policyFiles = YamlIn(policiesDirectory).Select(f => ("policies/" + Path.GetFileName(f), f)).ToList();
        if (policyFiles.Count == 0)
        {
            throw new RuleFileException("policies/", 0, "no policy files (*.yaml)");
        }
        files.AddRange(policyFiles);

        var hash = HashOf(files);
        DataInventory custody;
        try
        {
            custody = DataInventory.Load(files[0].FullPath);
        }
        catch (InventoryException e)
        {
            throw new RuleFileException(files[0].Name, 0, e.Message);
        }
        var inventory = PiaInventory.Load(custody, YamlFile.Load(files[1].FullPath, files[1].Name));
        var purposes = PurposeCatalog.Load(YamlFile.Load(files[2].FullPath, files[2].Name), inventory);
        var fearedEvents = PiaRuleSet.LoadRisks(YamlFile.Load(files[3].FullPath, files[3].Name));
        var rules = new List<PiaRule>();
        var parameters = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (name, full) in ruleFiles)
        {
            PiaRuleSet.LoadRules(YamlFile.Load(full, name), rules, parameters);
        }
        var policies = PolicySet.Load(policyFiles.Select(f => YamlFile.Load(f.Item2, f.Item1)).ToList());
        return new RuleCatalog(inventory, purposes, new PiaRuleSet(rules, parameters, fearedEvents), policies, hash, files.Select(f => f.Name).ToList());
    }

    /// <summary>Finds <c>pia/</c> and <c>policies/</c> under <paramref name="root"/> or its nearest ancestor that has both.</summary>
    public static RuleCatalog LoadFromRoot(string root)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(root)); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "pia")) && Directory.Exists(Path.Combine(dir.FullName, "policies")))
            {
                return Load(Path.Combine(dir.FullName, "pia"), Path.Combine(dir.FullName, "policies"));
            }
        }
        throw new RuleFileException(root, 0, "no folder with both pia/ and policies/ here or above; pass --root");
    }

    public Dictionary<string, Value> FactsOf(ApplicationSpec spec, IReadOnlyList<HeldGrant>? held = null) =>
        ApplicationFacts.Build(spec, Inventory, Purposes, Pia.Parameters, Policies.Governance.ToValue(), held);

    /// <param name="held">The recipient's grants in force, which policies about what it already holds read.</param>
    public Assessment Assess(ApplicationSpec spec, IReadOnlyList<HeldGrant>? held = null)
    {
        var facts = FactsOf(spec, held);
        return new Assessment(PiaEvaluator.Evaluate(Pia, facts, Hash), PolicyEvaluator.Evaluate(Policies, facts, Hash));
    }

    /// <summary>The committee policy alone, as <see cref="Assess"/> computes it.</summary>
    public PolicyDecision Decide(ApplicationSpec spec, IReadOnlyList<HeldGrant>? held = null) =>
        PolicyEvaluator.Evaluate(Policies, FactsOf(spec, held), Hash);

    private static IEnumerable<string> YamlIn(string directory) =>
        Directory.EnumerateFiles(directory, "*.yaml", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal);

    private static string HashOf(IEnumerable<(string Name, string FullPath)> files)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, full) in files.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(full);
            sha.AppendData(Encoding.UTF8.GetBytes($"{name}\n{bytes.Length}\n"));
            sha.AppendData(bytes);
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

/// <summary>The automatic assessment of one submitted version: the PIA report and the policy decision.</summary>
public sealed record Assessment(PiaReport Pia, PolicyDecision Policy)
{
    /// <summary>A PIA blocker or a policy deny sends the application back to the business.</summary>
    public bool Blocked => Pia.Outcome == PiaOutcomes.Blocked || Policy.Decision == PolicyDecisions.Deny;
}
