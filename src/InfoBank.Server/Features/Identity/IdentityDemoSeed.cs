using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Demo;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// The Sapporo demo's people and clients: residents, the ethics committee (security specialist,
/// lawyer, data-ethics specialist), an auditor, an operator, the step-count app and the body
/// composition scale as data sources, and the three businesses. Passwords and secrets are
/// generated here and go only into the notes file.
/// </summary>
internal sealed class IdentityDemoSeed(AccountService accounts, AccountStore store, IServiceScopeFactory scopes) : IDemoSeedPart
{
    /// <summary>The public client for people signing in by hand during the demo.</summary>
    public const string PortalClientId = "infobank-portal";

    public static readonly IReadOnlyList<NewAccount> People =
    [
        new("sato.hanako", "Sato Hanako", AccountKind.Resident),
        new("suzuki.ichiro", "Suzuki Ichiro", AccountKind.Resident),
        new("takahashi.yui", "Takahashi Yui", AccountKind.Resident),
        new("tanaka.security", "Tanaka Ken (security specialist)", AccountKind.Committee, CommitteeRoles.Secretariat),
        new("watanabe.law", "Watanabe Aya (lawyer)", AccountKind.Committee, CommitteeRoles.Member),
        new("ito.ethics", "Ito Makoto (data-ethics specialist)", AccountKind.Committee, CommitteeRoles.Chair),
        new("yamamoto.audit", "Yamamoto Rie (auditor)", AccountKind.Auditor),
        new("kobayashi.ops", "Kobayashi Jun (operator)", AccountKind.Operator),
    ];

    public static readonly IReadOnlyList<(string ClientId, string Name, ClientKind Kind)> Clients =
    [
        ("source-kenko-steps", "Sapporo Kenko Point step-count app", ClientKind.DataSource),
        ("source-body-scale", "Body composition scale", ClientKind.DataSource),
        ("business-fitness-club", "Sapporo fitness club chain", ClientKind.Business),
        ("business-health-research", "Hokkaido health-research institute", ClientKind.Business),
        ("business-shopping-mall", "Odori underground shopping mall", ClientKind.Business),
    ];

    public int Order => 10;

    public async Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken)
    {
        // The seeder is a singleton; OpenIddict's stores (a DbContext) live in a scope of their own.
        using var scope = scopes.CreateScope();
        var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
        foreach (var person in People)
        {
            if (await store.FindByUsernameAsync(person.Username, cancellationToken) is not null)
            {
                continue;
            }
            var created = await accounts.CreateAsync(person, cancellationToken);
            var role = person.CommitteeRole is { } r ? $" ({r})" : "";
            context.Notes.Add($"{person.Kind.ToText(),-9}{role,-14} username {created.Account.Username,-18} password {created.Password}");
        }
        foreach (var (clientId, name, kind) in Clients)
        {
            if (await clients.ExistsAsync(clientId, cancellationToken))
            {
                continue;
            }
            var created = await clients.RegisterMachineClientAsync(kind, name, clientId, cancellationToken);
            context.Notes.Add($"{kind.ToText(),-9} client_id {created.ClientId,-26} client_secret {created.ClientSecret}");
        }
        if (!await clients.ExistsAsync(PortalClientId, cancellationToken))
        {
            await clients.RegisterPeopleAppAsync(PortalClientId, "InfoBank portal (demo)", [new Uri("http://127.0.0.1:5080/signin/callback")],
                [new Uri("http://127.0.0.1:5080/signout")], cancellationToken);
            context.Notes.Add($"people app client_id {PortalClientId} (public, PKCE S256), redirect_uri http://127.0.0.1:5080/signin/callback, post_logout_redirect_uri http://127.0.0.1:5080/signout");
        }
    }
}
