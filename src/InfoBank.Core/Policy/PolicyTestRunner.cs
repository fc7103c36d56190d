using InfoBank.Core.Applications;
using InfoBank.Core.Pia;
using InfoBank.Core.Rules;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Policy;

public sealed record PolicyTestResult(
    string File,
    long Line,
    string Name,
    bool Passed,
    string ExpectedDecision,
    string ActualDecision,
    IReadOnlyList<string> ExpectedRuleIds,
    IReadOnlyList<string> ActualRuleIds,
    IReadOnlyList<string> Errors);

/// <summary>
/// Runs <c>policies/tests/*.yaml</c>. Each file may give a <c>base</c> application; each case an
/// <c>application</c> overlay (deep-merged onto the base), the expected <c>decision</c> and the exact
/// set of matched policy rule <c>rules</c>; and optionally <c>held_grants</c>, the grants the recipient
/// already holds (each an <c>output</c> kind and its <c>categories</c>). Lets the committee check a
/// policy change offline.
/// </summary>
public static class PolicyTestRunner
{
    public static IReadOnlyList<PolicyTestResult> RunDirectory(RuleCatalog catalog, string testsDirectory)
    {
        if (!Directory.Exists(testsDirectory))
        {
            throw new RuleFileException(testsDirectory, 0, "the policy tests folder does not exist");
        }
        var results = new List<PolicyTestResult>();
        foreach (var path in Directory.EnumerateFiles(testsDirectory, "*.yaml").Order(StringComparer.Ordinal))
        {
            results.AddRange(Run(catalog, YamlFile.Load(path, "policies/tests/" + Path.GetFileName(path))));
        }
        return results;
    }

    public static IReadOnlyList<PolicyTestResult> Run(RuleCatalog catalog, YamlFile file)
    {
        var root = file.RootMap();
        var baseJson = file.Optional(root, "base") is { } b ? YamlFile.ToJson(b) : null;
        var results = new List<PolicyTestResult>();
        foreach (var node in file.Seq(file.Required(root, "cases"), "'cases'").Children)
        {
            var map = file.Map(node, "a test case");
            var name = file.Str(map, "name");
            var appNode = file.Required(map, "application");
            var spec = ApplicationSpecYaml.FromJson(file, appNode, ApplicationSpecYaml.Merge(baseJson, YamlFile.ToJson(appNode)));
            var problems = ApplicationSpecValidation.Validate(spec, catalog.Inventory, catalog.Purposes);
            if (problems.Count > 0)
            {
                throw file.Error(appNode, $"case '{name}' is not a valid application: " +
                    string.Join("; ", problems.Select(p => $"{p.Key}: {string.Join(", ", p.Value)}")));
            }
            var expect = file.Map(file.Required(map, "expect"), "'expect'");
            var expectedDecision = file.Str(expect, "decision");
            if (expectedDecision is not (PolicyDecisions.Permit or PolicyDecisions.Deny or PolicyDecisions.NeedsReview))
            {
                throw file.Error(expect, "expected decision must be permit, deny or needs_review");
            }
            var expectedRules = file.Strings(expect, "rules").Order(StringComparer.Ordinal).ToList();
            var unknown = expectedRules.Where(r => r != PolicyEvaluator.DefaultDenyId && catalog.Policies.Rules.All(p => p.Id != r)).ToList();
            if (unknown.Count > 0)
            {
                throw file.Error(expect, $"case '{name}' expects unknown rule id(s) {string.Join(", ", unknown)}");
            }
            var decision = PolicyEvaluator.Evaluate(catalog.Policies, catalog.FactsOf(spec, HeldGrants(file, map)), catalog.Hash);
            var actualRules = decision.MatchedRuleIds.Order(StringComparer.Ordinal).ToList();
            var passed = decision.Decision == expectedDecision && actualRules.SequenceEqual(expectedRules);
            results.Add(new PolicyTestResult(file.Path, map.Start.Line, name, passed, expectedDecision, decision.Decision, expectedRules, actualRules, decision.Errors));
        }
        return results;
    }

    private static List<HeldGrant>? HeldGrants(YamlFile file, YamlMappingNode map)
    {
        if (file.Optional(map, "held_grants") is not { } node)
        {
            return null;
        }
        return file.Seq(node, "'held_grants'").Children
            .Select(n => file.Map(n, "a held grant"))
            .Select(g => file.Str(g, "output") is OutputKinds.Record or OutputKinds.Aggregate
                ? new HeldGrant(Guid.Empty, file.Str(g, "output"), file.Strings(g, "categories"))
                : throw file.Error(g, "a held grant's output must be record or aggregate"))
            .ToList();
    }
}
