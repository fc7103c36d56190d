using System.Diagnostics;
using InfoBank.Core.Applications;
using InfoBank.Core.Rules;

namespace InfoBank.Bench;

/// <summary>
/// How fast the rule files load (start-up cost) and how many applications per second the PIA
/// rules plus committee policies assess, in-process, over the three Sapporo demo applications.
/// </summary>
public sealed class AssessmentBenchmark : IBenchmark
{
    public string Name => "applications";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var pia = Path.Combine(AppContext.BaseDirectory, "pia");
        var policies = Path.Combine(AppContext.BaseDirectory, "policies");
        var loadMs = await Measure.MedianAsync(5, _ =>
        {
            var watch = Stopwatch.StartNew();
            RuleCatalog.Load(pia, policies);
            return Task.FromResult(watch.Elapsed.TotalMilliseconds);
        });
        var catalog = RuleCatalog.Load(pia, policies);
        var specs = new[] { "fitness-club", "health-research", "shopping-mall" }.Select(name =>
        {
            var file = YamlFile.Load(Path.Combine(pia, "examples", name + ".yaml"), name);
            return ApplicationSpecYaml.Parse(file, file.Root!);
        }).ToArray();
        var count = context.Quick ? 3_000 : 30_000;
        var perSecond = await Measure.MedianAsync(3, _ =>
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                catalog.Assess(specs[i % specs.Length]);
            }
            return Task.FromResult(Measure.PerSecond(count, watch));
        });
        return
        [
            new BenchResult("rule files load (pia + policies)", loadMs, "ms", HigherIsBetter: false, Note: $"{catalog.Pia.Rules.Count} PIA rules, {catalog.Policies.Rules.Count} policy rules"),
            new BenchResult("assess application (PIA + policy)", perSecond, "assessments/s", Note: "facts, all rules, risk register; the 3 demo applications in turn"),
        ];
    }
}
