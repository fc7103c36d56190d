using InfoBank.Core.Applications;
using InfoBank.Core.Rules;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Demo;

namespace InfoBank.Server.Features.Applications;

/// <summary>
/// The three Sapporo businesses' applications, each in a different state, made through the same
/// workflow service the API uses: the fitness club's aggregate-only application approved by the
/// three experts (so it has an active grant), the research institute's record-level special-care
/// application waiting for the committee, and the mall's returned by PIA blockers.
/// Skips a business that already has an application, so re-running changes nothing.
/// </summary>
internal sealed class ApplicationsDemoSeed(IServiceScopeFactory scopes) : IDemoSeedPart
{
    public int Order => 30;

    public async Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var service = services.GetRequiredService<ApplicationService>();
        var examples = Path.Combine(services.GetRequiredService<RuleCatalogProvider>().PiaDirectory, "examples");
        var accounts = services.GetRequiredService<AccountStore>();

        var fitness = await SubmitAsync(service, "business-fitness-club", Path.Combine(examples, "fitness-club.yaml"), context, cancellationToken);
        if (fitness is not null)
        {
            var committee = new List<Actor>();
            foreach (var person in IdentityDemoSeed.People.Where(p => p.Kind == AccountKind.Committee))
            {
                if (await accounts.FindByUsernameAsync(person.Username, cancellationToken) is { } found)
                {
                    committee.Add(Actor.Committee(found.Account.Id, person.CommitteeRole!));
                }
            }
            var reasons = new Dictionary<string, (string Vote, string Reason, string[] Conditions)>
            {
                ["secretariat"] = ("approve", "Aggregates with k = 10 by ward; encryption and access logging attested.", []),
                ["member"] = ("approve_with_conditions", "Purpose and benefit are stated plainly in both languages.", ["Publish the ward statistics used for club planning once a year."]),
                ["chair"] = ("approve", "Only the fields the purpose needs; no record-level output.", []),
            };
            foreach (var member in committee)
            {
                var (vote, reason, conditions) = reasons[member.Role!];
                await service.VoteAsync(member, fitness.Value, new VoteRequest(vote, reason, conditions), cancellationToken);
            }
            var chair = committee.FirstOrDefault(m => m.Role == "chair");
            if (chair is not null && await service.DecideAsync(chair, fitness.Value, new DecisionRequest("Approved by the demo committee."), cancellationToken) is { Succeeded: true } decided)
            {
                context.Notes.Add($"application approved  {fitness} (business-fitness-club), grant {decided.Value!.Grant!.Id}");
            }
        }
        await SubmitAsync(service, "business-health-research", Path.Combine(examples, "health-research.yaml"), context, cancellationToken);
        await SubmitAsync(service, "business-shopping-mall", Path.Combine(examples, "shopping-mall.yaml"), context, cancellationToken);
    }

    private static async Task<Guid?> SubmitAsync(ApplicationService service, string owner, string path, DemoSeedContext context, CancellationToken cancellationToken)
    {
        if ((await service.ListForOwnerAsync(owner, null, 1, cancellationToken)).Page.Count > 0)
        {
            return null;
        }
        var file = YamlFile.Load(path, Path.GetFileName(path));
        var spec = ApplicationSpecYaml.Parse(file, file.Root!);
        var created = await service.CreateAsync(owner, spec, cancellationToken);
        if (!created.Succeeded)
        {
            throw new InvalidOperationException($"The demo application {path} is not valid: {created.Refusal.Detail} "
                + string.Join("; ", (created.Refusal.Errors ?? new Dictionary<string, string[]>()).Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")));
        }
        var submitted = (await service.SubmitAsync(owner, created.Value!.Id, cancellationToken)).Value!;
        context.Notes.Add($"application {submitted.Status,-9} {submitted.Id} ({owner})");
        return submitted.Id;
    }
}
