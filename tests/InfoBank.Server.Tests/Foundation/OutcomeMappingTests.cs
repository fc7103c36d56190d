using System.Reflection;
using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The one mapping from <see cref="Refusal"/> to an HTTP answer: every problem type, written through
/// the host's own problem-details pipeline, is a body a client can rely on.
/// </summary>
public sealed class OutcomeMappingTests
{
    /// <summary>Every field of <see cref="ProblemTypes"/>, read directly: <see cref="ProblemTypes.All"/> is built from them and would hide a duplicate.</summary>
    private static List<ProblemType> Declared() => typeof(ProblemTypes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(ProblemType))
        .Select(f => (ProblemType)f.GetValue(null)!)
        .ToList();

    public static TheoryData<string> Slugs() => [.. Declared().Select(t => t.Slug)];

    [Fact]
    public void No_two_problem_types_share_a_slug_and_the_registry_lists_every_one()
    {
        var declared = Declared();
        var shared = declared.GroupBy(t => t.Slug, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(shared.Count == 0, $"slugs used by more than one problem type: {string.Join(", ", shared)}");
        Assert.Equal(declared.Select(t => t.Slug).Order(StringComparer.Ordinal), ProblemTypes.All.Keys.Order(StringComparer.Ordinal));
        Assert.All(declared, t => Assert.Matches("^[a-z]+(-[a-z]+)*$", t.Slug));
        Assert.All(declared, t => Assert.False(string.IsNullOrWhiteSpace(t.Title) || string.IsNullOrWhiteSpace(t.Description), t.Slug));
    }

    [Theory]
    [MemberData(nameof(Slugs))]
    public async Task Every_problem_type_maps_to_a_body_with_type_title_status_and_detail(string slug)
    {
        var type = ProblemTypes.All[slug];
        foreach (var refusal in new[] { Refusal.Of(type, "Something specific went wrong."), Refusal.Of(type, ""), Refusal.Of(type, new Dictionary<string, string[]> { ["field"] = ["is wrong"] }) })
        {
            var (status, _, body) = await WriteAsync(refusal);
            Assert.Equal(type.Status, status);
            Assert.Equal($"/problems/{slug}", body.GetProperty("type").GetString());
            Assert.Equal(type.Title, body.GetProperty("title").GetString());
            Assert.Equal(type.Status, body.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("detail").GetString()), $"{slug}: a refusal without words");
            Assert.Equal(refusal.Errors is not null, body.TryGetProperty("errors", out _));
        }
    }

    [Fact]
    public async Task A_refusal_that_may_succeed_later_sets_Retry_After_and_keeps_its_extensions()
    {
        var limited = Refusal.Of(ProblemTypes.OverApprovedFrequency, "Wait for the next window.").With("rules", new[] { "POL-1" });
        var refusal = limited with { RetryAfter = TimeSpan.FromSeconds(90.2) };
        var (status, headers, body) = await WriteAsync(refusal);
        Assert.Equal(429, status);
        Assert.Equal("91", headers.RetryAfter.ToString());
        Assert.Equal(91, body.GetProperty(Refusal.RetryAfterExtension).GetInt64());
        Assert.Equal("POL-1", body.GetProperty("rules")[0].GetString());

        var (_, without, _) = await WriteAsync(Refusal.Of(ProblemTypes.Conflict, "Read it again."));
        Assert.Equal("", without.RetryAfter.ToString());
    }

    [Fact]
    public void Every_consent_refusal_kind_has_its_own_problem_type()
    {
        var kinds = Enum.GetValues<ConsentRefusalKind>();
        var types = kinds.Select(ConsentRefusals.TypeOf).ToList();
        Assert.Equal(kinds.Length, types.Distinct().Count());
        Assert.All(types, t => Assert.Same(ProblemTypes.All[t.Slug], t));
    }

    [Fact]
    public void Every_workflow_refusal_kind_has_a_registered_problem_type()
    {
        var kinds = Enum.GetValues<RefusalKind>();
        var types = kinds.Select(WorkflowRefusals.TypeOf).ToList();
        Assert.Equal(kinds.Length, types.Distinct().Count());
        Assert.All(types, t => Assert.Same(ProblemTypes.All[t.Slug], t));
    }

    [Fact]
    public void An_outcome_is_its_value_or_its_refusal()
    {
        Outcome<string> done = "value";
        Outcome<string> refused = Refusal.Of(ProblemTypes.NotFound, "No such thing.");
        Assert.True(done.Succeeded);
        Assert.Equal("value", done.Value);
        Assert.False(refused.Succeeded);
        Assert.Null(refused.Value);
        Assert.Equal(ProblemTypes.NotFound, refused.Refusal.Type);
        var (value, refusal) = refused;
        Assert.Null(value);
        Assert.Equal("No such thing.", refusal!.Detail);
    }

    private static async Task<(int Status, IHeaderDictionary Headers, JsonElement Body)> WriteAsync(Refusal refusal)
    {
        var services = new ServiceCollection().AddLogging(l => l.ClearProviders()).AddInfoBankProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Path = "/somewhere";
        using var body = new MemoryStream();
        context.Response.Body = body;
        await refusal.ToResult().ExecuteAsync(context);
        body.Position = 0;
        using var document = await JsonDocument.ParseAsync(body);
        return (context.Response.StatusCode, context.Response.Headers, document.RootElement.Clone());
    }
}
