using InfoBank.Core.Pia;
using InfoBank.Core.Rules;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Pia;

public static class Severities
{
    public const string Blocker = "blocker";
    public const string Major = "major";
    public const string Minor = "minor";
}

/// <summary>
/// One PIA rule: when <see cref="When"/> holds, the rule fires and its finding goes into the report
/// with the evidence expressions evaluated, so the business and the committee see why.
/// </summary>
public sealed record PiaRule(
    string Id,
    LocalizedText Title,
    IReadOnlyList<string> References,
    string Severity,
    RuleExpression When,
    LocalizedText Explanation,
    IReadOnlyList<(string Label, RuleExpression Expression)> Evidence,
    bool FullAssessment);

/// <summary>A first-match ladder: the first step whose condition holds gives the level (1–4).</summary>
public sealed record RiskLadder(IReadOnlyList<(RuleExpression? When, int Level)> Steps)
{
    public (int Level, string Because) Evaluate(IReadOnlyDictionary<string, Value> facts)
    {
        foreach (var (when, level) in Steps)
        {
            if (when is null)
            {
                return (level, "otherwise");
            }
            var (holds, error) = when.Test(facts);
            if (error is not null)
            {
                // A ladder that cannot be read leaves the worst level: risk is never understated.
                return (4, error);
            }
            if (holds == true)
            {
                return (level, when.Text);
            }
        }
        return (4, "no step applied");
    }
}

/// <summary>A CNIL-style feared event with ladders for severity and likelihood after measures.</summary>
public sealed record FearedEvent(string Id, LocalizedText Title, RiskLadder Severity, RiskLadder Likelihood);

public sealed record PiaRuleSet(
    IReadOnlyList<PiaRule> Rules,
    IReadOnlyDictionary<string, Value> Parameters,
    IReadOnlyList<FearedEvent> FearedEvents)
{
    public static readonly string[] FearedEventIds = ["illegitimate_access", "unwanted_modification", "disappearance"];

    /// <summary>Adds one <c>pia/rules/*.yaml</c> file's parameters and rules.</summary>
    public static void LoadRules(YamlFile file, List<PiaRule> rules, Dictionary<string, Value> parameters)
    {
        var root = file.RootMap();
        if (file.Optional(root, "parameters") is { } paramNode)
        {
            foreach (var (key, value) in file.Map(paramNode, "'parameters'").Children)
            {
                var name = ((YamlScalarNode)key).Value ?? "";
                if (parameters.ContainsKey(name))
                {
                    throw file.Error(key, $"parameter '{name}' is defined twice");
                }
                parameters[name] = ToValue(file, value);
            }
        }
        if (file.Optional(root, "rules") is not { } rulesNode)
        {
            return;
        }
        foreach (var node in file.Seq(rulesNode, "'rules'").Children)
        {
            var map = file.Map(node, "a rule");
            var id = file.Str(map, "id");
            if (rules.Any(r => r.Id == id))
            {
                throw file.Error(map, $"rule '{id}' is defined twice");
            }
            var severity = file.Str(map, "severity");
            if (severity is not (Severities.Blocker or Severities.Major or Severities.Minor))
            {
                throw file.Error(file.Required(map, "severity"), $"severity of '{id}' must be blocker, major or minor");
            }
            var evidence = new List<(string, RuleExpression)>();
            if (file.Optional(map, "evidence") is { } evidenceNode)
            {
                foreach (var (key, value) in file.Map(evidenceNode, "'evidence'").Children)
                {
                    evidence.Add((((YamlScalarNode)key).Value ?? "", RuleExpression.Parse(file, value, ApplicationFacts.Roots)));
                }
            }
            var effect = file.OptionalStr(map, "effect");
            if (effect is not (null or "full_assessment"))
            {
                throw file.Error(map, $"effect of '{id}' may only be full_assessment");
            }
            var references = file.Strings(map, "references");
            if (references.Count == 0)
            {
                throw file.Error(map, $"rule '{id}' needs at least one reference");
            }
            rules.Add(new PiaRule(
                id, file.Text(map, "title"), references, severity,
                RuleExpression.Parse(file, file.Required(map, "when"), ApplicationFacts.Roots),
                file.Text(map, "explanation"), evidence, effect == "full_assessment"));
        }
    }

    public static List<FearedEvent> LoadRisks(YamlFile file)
    {
        var events = new List<FearedEvent>();
        foreach (var node in file.Seq(file.Required(file.RootMap(), "feared_events"), "'feared_events'").Children)
        {
            var map = file.Map(node, "a feared event");
            var id = file.Str(map, "id");
            if (!FearedEventIds.Contains(id) || events.Any(e => e.Id == id))
            {
                throw file.Error(map, $"feared event '{id}' must be one of {string.Join(", ", FearedEventIds)}, each once");
            }
            events.Add(new FearedEvent(id, file.Text(map, "title"), Ladder(file, map, "severity"), Ladder(file, map, "likelihood")));
        }
        var missing = FearedEventIds.Except(events.Select(e => e.Id)).ToList();
        if (missing.Count > 0)
        {
            throw file.Error(file.Root, $"feared events missing: {string.Join(", ", missing)}");
        }
        return events;
    }

    private static RiskLadder Ladder(YamlFile file, YamlMappingNode map, string key)
    {
        var steps = new List<(RuleExpression?, int)>();
        var sequence = file.Seq(file.Required(map, key), $"'{key}'");
        foreach (var node in sequence.Children)
        {
            var step = file.Map(node, $"a {key} step");
            var level = file.Int(step, "level");
            if (level is < 1 or > 4)
            {
                throw file.Error(step, $"{key} level must be 1 to 4");
            }
            var when = file.Optional(step, "when") is { } w ? RuleExpression.Parse(file, w, ApplicationFacts.Roots) : null;
            if (steps.Count > 0 && steps[^1].Item1 is null)
            {
                throw file.Error(step, $"a {key} step after the default (no 'when') can never apply");
            }
            steps.Add((when, level));
        }
        if (steps.Count == 0 || steps[^1].Item1 is not null)
        {
            throw file.Error(sequence, $"the {key} ladder must end with a default step (no 'when')");
        }
        return new RiskLadder(steps);
    }

    private static Value ToValue(YamlFile file, YamlNode node) => node switch
    {
        YamlSequenceNode s => new ListValue(s.Children.Select(c => ToValue(file, c)).ToList()),
        YamlScalarNode { Value: "true" } => Value.True,
        YamlScalarNode { Value: "false" } => Value.False,
        YamlScalarNode { Value: { } v, Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) }
            when decimal.TryParse(v, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var d) => Value.Of(d),
        YamlScalarNode { Value: { } v } => Value.Of(v),
        _ => throw file.Error(node, "a parameter must be a number, boolean, text or list"),
    };
}

public sealed record PiaFinding(
    string RuleId,
    LocalizedText Title,
    string Severity,
    IReadOnlyList<string> References,
    LocalizedText Explanation,
    IReadOnlyDictionary<string, object?> Evidence,
    string Source);

public sealed record RiskEntry(string Event, LocalizedText Title, int Severity, int Likelihood, string SeverityBecause, string LikelihoodBecause);

public static class PiaOutcomes
{
    /// <summary>A blocker fired: the application goes back to the business with the findings.</summary>
    public const string Blocked = "blocked";

    /// <summary>Major findings: the committee must look at them.</summary>
    public const string ReviewRequired = "review_required";

    public const string Pass = "pass";
}

/// <summary>The PIA report kept with each submitted version and shown to the business and the committee.</summary>
public sealed record PiaReport(
    string Outcome,
    bool FullAssessmentRequired,
    IReadOnlyList<PiaFinding> Findings,
    IReadOnlyList<string> PassedRuleIds,
    IReadOnlyList<string> Errors,
    IReadOnlyList<RiskEntry> Risks,
    string RuleHash)
{
    public IEnumerable<string> FiredRuleIds => Findings.Select(f => f.RuleId);
}

public static class PiaEvaluator
{
    public static PiaReport Evaluate(PiaRuleSet rules, IReadOnlyDictionary<string, Value> facts, string ruleHash)
    {
        var findings = new List<PiaFinding>();
        var passed = new List<string>();
        var errors = new List<string>();
        var fullAssessment = false;
        foreach (var rule in rules.Rules)
        {
            var (holds, error) = rule.When.Test(facts);
            if (error is not null)
            {
                errors.Add($"{rule.Id}: {error}");
                continue;
            }
            if (holds != true)
            {
                passed.Add(rule.Id);
                continue;
            }
            fullAssessment |= rule.FullAssessment;
            var evidence = rule.Evidence.ToDictionary(e => e.Label, e => e.Expression.Show(facts), StringComparer.Ordinal);
            findings.Add(new PiaFinding(rule.Id, rule.Title, rule.Severity, rule.References, rule.Explanation, evidence, $"{rule.When.File}:{rule.When.Line}"));
        }
        var risks = rules.FearedEvents.Select(e =>
        {
            var (severity, severityBecause) = e.Severity.Evaluate(facts);
            var (likelihood, likelihoodBecause) = e.Likelihood.Evaluate(facts);
            return new RiskEntry(e.Id, e.Title, severity, likelihood, severityBecause, likelihoodBecause);
        }).ToList();
        var outcome = findings.Any(f => f.Severity == Severities.Blocker) ? PiaOutcomes.Blocked
            : findings.Any(f => f.Severity == Severities.Major) || errors.Count > 0 ? PiaOutcomes.ReviewRequired
            : PiaOutcomes.Pass;
        return new PiaReport(outcome, fullAssessment, findings, passed, errors, risks, ruleHash);
    }
}
