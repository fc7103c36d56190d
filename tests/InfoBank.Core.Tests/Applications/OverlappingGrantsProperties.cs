using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;
using InfoBank.Core.Applications;
using InfoBank.Core.Pia;
using InfoBank.Core.Policy;

namespace InfoBank.Core.Tests.Applications;

/// <summary>
/// Differencing across grants: the minimum group size guards each grant's answers, not the
/// difference of two grants' answers, so the committee policy must never let one recipient hold two
/// grants whose answers subtract (POL-FORBID-005).
/// </summary>
public sealed class OverlappingGrantsProperties
{
    private static readonly TimeSpan Jst = TimeSpan.FromHours(9);

    private static readonly string[] Categories = ["steps.daily", "body.composition", "location.visit", "purchase.item"];

    private static ApplicationSpec Spec(string kind, IEnumerable<string> categories)
    {
        var inventory = RuleFiles.Shipped.Value.Inventory;
        return RuleFiles.Example("fitness-club") with
        {
            Data = [.. categories.Select(c => new DataRequest(c, [inventory.Find(c)!.Fields[0].Name]))],
            Output = kind == OutputKinds.Aggregate ? new OutputSpec(kind, 10, null) : new OutputSpec(kind, null, "pseudonymous_per_recipient"),
        };
    }

    private static List<string> SomeCategories(Random random)
    {
        var picked = Categories.Where(_ => random.Next(3) == 0).ToList();
        return picked.Count > 0 ? picked : [Categories[random.Next(Categories.Length)]];
    }

    private static string SomeKind(Random random) => random.Next(2) == 0 ? OutputKinds.Aggregate : OutputKinds.Record;

    // For any grants a recipient holds and any new application: the policy forbids it exactly when
    // some held grant shares a category with it and one of the two is an aggregate, and then the
    // decision is deny whatever else permits it. So two grants a recipient holds at once never have
    // answers that can be subtracted.
    [Property(MaxTest = 300)]
    public Property An_overlap_with_an_aggregate_is_always_denied_and_nothing_else_is_denied_for_it(int seed)
    {
        var random = new Random(seed);
        var held = Enumerable.Range(0, random.Next(0, 4))
            .Select(_ => new HeldGrant(Guid.NewGuid(), SomeKind(random), SomeCategories(random)))
            .ToList();
        var kind = SomeKind(random);
        var categories = SomeCategories(random);
        var decision = RuleFiles.Shipped.Value.Decide(Spec(kind, categories), held);
        var overlaps = held.Any(h => (h.OutputKind == OutputKinds.Aggregate || kind == OutputKinds.Aggregate) && h.Categories.Intersect(categories).Any());
        var forbidden = decision.MatchedRuleIds.Contains("POL-FORBID-005");
        return (forbidden == overlaps && (!overlaps || decision.Decision == PolicyDecisions.Deny))
            .Label($"held [{string.Join("; ", held.Select(h => h.OutputKind + ":" + string.Join(",", h.Categories)))}] new {kind}:{string.Join(",", categories)} → {decision.Decision} [{string.Join(", ", decision.MatchedRuleIds)}]");
    }

    // Why: two aggregates over one category whose residents differ by fewer than k each pass the
    // guard, and their difference is the small group's figure — here one resident's exact value.
    // The policy refuses the second of exactly such a pair.
    [Property(MaxTest = 100)]
    public Property Two_aggregates_that_pass_the_guard_can_be_subtracted_so_the_second_is_refused(int seed)
    {
        var random = new Random(seed);
        var spec = new AggregateSpec([], ["steps"], K: 10, BucketPeriod.Month, Jst,
            new DateTimeOffset(2026, 11, 1, 0, 0, 0, Jst), new DateTimeOffset(2026, 12, 1, 0, 0, 0, Jst));
        var at = new DateTimeOffset(2026, 11, 10, 9, 0, 0, Jst);
        var crowd = Enumerable.Range(0, random.Next(10, 40))
            .Select(_ => new AggregateRow(Guid.NewGuid(), at, [], [random.Next(0, 30_000)]))
            .ToList();
        var target = new AggregateRow(Guid.NewGuid(), at, [], [random.Next(0, 30_000)]);
        double Sum(IEnumerable<AggregateRow> rows) => Assert.Single(AggregateEngine.Release(spec, "2026-11", rows.ToList())).Fields![0].Sum;

        var leaked = Sum([.. crowd, target]) - Sum(crowd);
        var first = new HeldGrant(Guid.NewGuid(), OutputKinds.Aggregate, ["steps.daily"]);
        var second = RuleFiles.Shipped.Value.Decide(Spec(OutputKinds.Aggregate, ["steps.daily"]), [first]);
        return (leaked == target.Values[0] && second.Decision == PolicyDecisions.Deny && second.MatchedRuleIds.Contains("POL-FORBID-005")).ToProperty();
    }
}
