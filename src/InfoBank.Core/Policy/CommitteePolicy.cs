using InfoBank.Core.Pia;
using InfoBank.Core.Rules;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Policy;

public static class PolicyEffects
{
    public const string Permit = "permit";
    public const string Forbid = "forbid";
    public const string Review = "review";
}

public static class PolicyDecisions
{
    public const string Permit = "permit";
    public const string Deny = "deny";
    public const string NeedsReview = "needs_review";
}

/// <summary>One committee policy rule: when it holds, it permits, forbids or asks for review.</summary>
public sealed record PolicyRule(string Id, string Effect, RuleExpression When, LocalizedText Reason);

/// <summary>
/// How the committee decides: the votes needed, which roles vote, who may close a decision,
/// suspend or revoke, whether the chair breaks ties, and the longest grant.
/// </summary>
public sealed record Governance(
    int Quorum,
    IReadOnlyList<string> VotingRoles,
    bool ChairBreaksTies,
    IReadOnlyList<string> DecideRoles,
    IReadOnlyList<string> SuspendRoles,
    IReadOnlyList<string> RevokeRoles,
    int MaxGrantDays)
{
    public Value ToValue() => Value.Obj(
        ("quorum", Value.Of(Quorum)),
        ("max_grant_days", Value.Of(MaxGrantDays)));
}

public sealed record PolicySet(Governance Governance, IReadOnlyList<PolicyRule> Rules)
{
    public static readonly string[] Roles = ["secretariat", "member", "chair"];

    /// <summary>
    /// Loads <c>policies/*.yaml</c>. Exactly one file carries <c>governance</c>; any may carry rules.
    /// </summary>
    public static PolicySet Load(IReadOnlyList<YamlFile> files)
    {
        Governance? governance = null;
        var rules = new List<PolicyRule>();
        foreach (var file in files)
        {
            var root = file.RootMap();
            if (file.Optional(root, "governance") is { } g)
            {
                if (governance is not null)
                {
                    throw file.Error(g, "governance is defined in more than one policy file");
                }
                governance = LoadGovernance(file, file.Map(g, "'governance'"));
            }
            if (file.Optional(root, "rules") is not { } rulesNode)
            {
                continue;
            }
            foreach (var node in file.Seq(rulesNode, "'rules'").Children)
            {
                var map = file.Map(node, "a policy rule");
                var id = file.Str(map, "id");
                if (rules.Any(r => r.Id == id))
                {
                    throw file.Error(map, $"policy rule '{id}' is defined twice");
                }
                var effect = file.Str(map, "effect");
                if (effect is not (PolicyEffects.Permit or PolicyEffects.Forbid or PolicyEffects.Review))
                {
                    throw file.Error(file.Required(map, "effect"), $"effect of '{id}' must be permit, forbid or review");
                }
                rules.Add(new PolicyRule(id, effect, RuleExpression.Parse(file, file.Required(map, "when"), ApplicationFacts.Roots), file.Text(map, "reason")));
            }
        }
        if (governance is null)
        {
            throw new RuleFileException(files.Count > 0 ? files[0].Path : "policies/", 1, "no policy file defines 'governance' (quorum, roles, max_grant_days)");
        }
        return new PolicySet(governance, rules);
    }

    private static Governance LoadGovernance(YamlFile file, YamlMappingNode map)
    {
        IReadOnlyList<string> RolesOf(string key)
        {
            var roles = file.Strings(map, key);
            var bad = roles.FirstOrDefault(r => !Roles.Contains(r));
            if (bad is not null || roles.Count == 0)
            {
                throw file.Error(file.Optional(map, key) ?? map, $"'{key}' must list roles from {string.Join(", ", Roles)}");
            }
            return roles;
        }
        var quorum = file.Int(map, "quorum");
        var maxDays = file.Int(map, "max_grant_days");
        if (quorum < 1)
        {
            throw file.Error(map, "quorum must be at least 1");
        }
        if (maxDays < 1)
        {
            throw file.Error(map, "max_grant_days must be at least 1");
        }
        return new Governance(quorum, RolesOf("voting_roles"), file.Bool(map, "chair_breaks_ties", false),
            RolesOf("decide_roles"), RolesOf("suspend_roles"), RolesOf("revoke_roles"), maxDays);
    }
}

public sealed record PolicyMatch(string RuleId, string Effect, LocalizedText Reason);

/// <summary>
/// The committee policy's verdict on an application: the decision, every rule that matched with
/// its reason, any rule that could not be evaluated, and the hash of the rule files used.
/// </summary>
public sealed record PolicyDecision(string Decision, IReadOnlyList<PolicyMatch> Matched, IReadOnlyList<string> Errors, string RuleHash)
{
    public IReadOnlyList<string> MatchedRuleIds => Matched.Select(m => m.RuleId).ToList();
}

public static class PolicyEvaluator
{
    public const string DefaultDenyId = "default-deny";

    /// <summary>
    /// Deny by default; a forbid beats any permit; a review match, or a rule that cannot be evaluated
    /// on these facts, gives <c>needs_review</c> — never a silent permit.
    /// </summary>
    public static PolicyDecision Evaluate(PolicySet policies, IReadOnlyDictionary<string, Value> facts, string ruleHash)
    {
        var matched = new List<PolicyMatch>();
        var errors = new List<string>();
        foreach (var rule in policies.Rules)
        {
            var (holds, error) = rule.When.Test(facts);
            if (error is not null)
            {
                errors.Add($"{rule.Id}: {error}");
            }
            else if (holds == true)
            {
                matched.Add(new PolicyMatch(rule.Id, rule.Effect, rule.Reason));
            }
        }
        string decision;
        if (matched.Any(m => m.Effect == PolicyEffects.Forbid))
        {
            decision = PolicyDecisions.Deny;
        }
        else if (errors.Count > 0 || matched.Any(m => m.Effect == PolicyEffects.Review))
        {
            decision = PolicyDecisions.NeedsReview;
        }
        else if (matched.Any(m => m.Effect == PolicyEffects.Permit))
        {
            decision = PolicyDecisions.Permit;
        }
        else
        {
            decision = PolicyDecisions.Deny;
            matched.Add(new PolicyMatch(DefaultDenyId, PolicyEffects.Forbid,
                new LocalizedText("許可する方針に該当しないため拒否します(既定で拒否)。", "No policy permits this application, so it is denied by default.")));
        }
        return new PolicyDecision(decision, matched, errors, ruleHash);
    }
}
