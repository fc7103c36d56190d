using InfoBank.Core.Policy;
using InfoBank.Core.Rules;

namespace InfoBank.Core.Tests.Applications;

public sealed class PolicyTests
{
    private static readonly IReadOnlyList<PolicyTestResult> Results =
        PolicyTestRunner.RunDirectory(RuleFiles.Shipped.Value, Path.Combine(RuleFiles.Policies, "tests"));

    [Fact]
    public void Every_shipped_policy_test_case_passes()
    {
        Assert.NotEmpty(Results);
        Assert.All(Results, r => Assert.True(r.Passed,
            $"{r.File}:{r.Line} '{r.Name}': expected {r.ExpectedDecision} [{string.Join(", ", r.ExpectedRuleIds)}], got {r.ActualDecision} [{string.Join(", ", r.ActualRuleIds)}] {string.Join("; ", r.Errors)}"));
    }

    [Fact]
    public void Every_policy_rule_is_seen_firing_and_not_firing_in_the_cases()
    {
        foreach (var rule in RuleFiles.Shipped.Value.Policies.Rules)
        {
            Assert.Contains(Results, r => r.ActualRuleIds.Contains(rule.Id));
            Assert.Contains(Results, r => !r.ActualRuleIds.Contains(rule.Id));
        }
    }

    [Fact]
    public void A_wrong_expectation_fails_the_case()
    {
        var file = YamlFile.Parse("""
            cases:
              - name: wrong
                application:
                  purpose: { code: dpv:ServiceOptimisation, text: { ja: あ, en: a } }
                  data: [{ category: steps.daily, fields: [steps] }]
                  output: { kind: aggregate, k: 10 }
                  fetch: { frequency: monthly }
                  retention_days: 30
                  recipient: { country: JP }
                  security: { isms: true, privacy_mark: false, encryption_at_rest: true, encryption_in_transit: true, access_logging: true }
                  benefit: { points: 1, description: { ja: あ, en: a } }
                  validity_days: 30
                expect: { decision: deny, rules: [POL-PERMIT-001] }
            """, "policies/tests/wrong.yaml");
        var result = Assert.Single(PolicyTestRunner.Run(RuleFiles.Shipped.Value, file));
        Assert.False(result.Passed);
        Assert.Equal("permit", result.ActualDecision);
    }

    [Fact]
    public void A_rule_that_cannot_be_evaluated_gives_needs_review_not_permit()
    {
        var catalog = RuleFiles.Shipped.Value;
        var yaml = YamlFile.Parse("w: \"output.k > 3\"", "policies/t.yaml");
        var when = RuleExpression.Parse(yaml, yaml.Required(yaml.RootMap(), "w"), InfoBank.Core.Pia.ApplicationFacts.Roots);
        var broken = new PolicyRule("POL-BROKEN", PolicyEffects.Forbid, when, new LocalizedText("あ", "a"));
        var policies = catalog.Policies with { Rules = [.. catalog.Policies.Rules, broken] };
        var facts = catalog.FactsOf(RuleFiles.Example("health-research"));
        var decision = PolicyEvaluator.Evaluate(policies, facts, catalog.Hash);
        Assert.Equal(PolicyDecisions.NeedsReview, decision.Decision);
        Assert.Contains(decision.Errors, e => e.StartsWith("POL-BROKEN", StringComparison.Ordinal));
    }

    [Fact]
    public void No_matching_permit_is_a_deny_with_the_default_rule_id()
    {
        var catalog = RuleFiles.Shipped.Value;
        var decision = PolicyEvaluator.Evaluate(catalog.Policies with { Rules = [] }, catalog.FactsOf(RuleFiles.Example("fitness-club")), catalog.Hash);
        Assert.Equal(PolicyDecisions.Deny, decision.Decision);
        Assert.Equal([PolicyEvaluator.DefaultDenyId], decision.MatchedRuleIds);
        Assert.Equal(catalog.Hash, decision.RuleHash);
    }
}
