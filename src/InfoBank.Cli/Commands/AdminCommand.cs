using System.CommandLine;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace InfoBank.Cli.Commands;

/// <summary>
/// Accounts and OAuth clients. Passwords and client secrets are generated here and printed once
/// (they are stored only hashed); the operator hands them over out of band.
/// </summary>
internal static class AdminCommand
{
    public static Command Create()
    {
        var admin = new Command("admin", "Manage people's accounts and OAuth clients (applies pending migrations first).");
        admin.Subcommands.Add(AddUser());
        admin.Subcommands.Add(AddClient());
        admin.Subcommands.Add(List());
        return admin;
    }

    private static Command AddUser()
    {
        var role = new Option<string>("--role") { Description = "resident, committee, auditor or operator.", Required = true };
        role.AcceptOnlyFromAmong("resident", "committee", "auditor", "operator");
        var committeeRole = new Option<string?>("--committee-role") { Description = "For --role committee: secretariat, member or chair." };
        committeeRole.AcceptOnlyFromAmong("secretariat", "member", "chair");
        var username = new Option<string>("--username") { Description = "Sign-in name (unique, case-insensitive).", Required = true };
        var displayName = new Option<string?>("--display-name") { Description = "Name shown to the person and in the portal (default: the username)." };

        var command = new Command("add-user", "Create a person's account with a generated password, printed once.")
        {
            role, committeeRole, username, displayName,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            using var host = Build(parse);
            var accounts = host.Services.GetRequiredService<AccountService>();
            try
            {
                var name = parse.GetValue(username)!;
                var created = await accounts.CreateAsync(
                    new NewAccount(name, parse.GetValue(displayName) ?? name, AccountKinds.Parse(parse.GetValue(role)!), parse.GetValue(committeeRole)),
                    cancellationToken);
                await output.WriteLineAsync($"Created {created.Account.Kind.ToText()} account.");
                await output.WriteLineAsync($"account_id: {created.Account.Id}");
                await output.WriteLineAsync($"username:   {created.Account.Username}");
                await output.WriteLineAsync($"password:   {created.Password}");
                await output.WriteLineAsync("The password is shown only this once; it is stored hashed.");
                return 0;
            }
            catch (AccountRejectedException e)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync(e.Message);
                return 2;
            }
        });
        return command;
    }

    private static Command AddClient()
    {
        var kind = new Option<string>("--kind") { Description = "business or source (machine clients, client credentials); app (a public client people sign in through).", Required = true };
        kind.AcceptOnlyFromAmong("business", "source", "app");
        var name = new Option<string>("--name") { Description = "Display name of the organisation or app.", Required = true };
        var clientId = new Option<string?>("--client-id") { Description = "Client id to use (default: generated from the kind)." };
        var redirectUris = new Option<string[]>("--redirect-uri") { Description = "For --kind app: an allowed redirect URI (repeatable).", AllowMultipleArgumentsPerToken = false };

        var command = new Command("add-client", "Register an OAuth client; a machine client's secret is generated and printed once.")
        {
            kind, name, clientId, redirectUris,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            using var host = Build(parse);
            using var scope = host.Services.CreateScope();
            var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
            try
            {
                if (parse.GetValue(kind) == "app")
                {
                    var id = parse.GetValue(clientId) ?? throw new ClientRejectedException("A people app needs --client-id.");
                    var uris = (parse.GetValue(redirectUris) ?? []).Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri)
                        ? uri
                        : throw new ClientRejectedException($"'{u}' is not an absolute URI.")).ToList();
                    await clients.RegisterPeopleAppAsync(id, parse.GetValue(name)!, uris, cancellationToken);
                    await output.WriteLineAsync("Registered people app (public client, authorization code + PKCE S256).");
                    await output.WriteLineAsync($"client_id: {id}");
                    return 0;
                }
                ClientKinds.TryParse(parse.GetValue(kind), out var clientKind);
                var created = await clients.RegisterMachineClientAsync(clientKind, parse.GetValue(name)!, parse.GetValue(clientId), cancellationToken);
                await output.WriteLineAsync($"Registered {clientKind.ToText()} client (client credentials, scope {clientKind.Scope()}).");
                await output.WriteLineAsync($"client_id:     {created.ClientId}");
                await output.WriteLineAsync($"client_secret: {created.ClientSecret}");
                await output.WriteLineAsync("The secret is shown only this once; it is stored hashed.");
                return 0;
            }
            catch (ClientRejectedException e)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync(e.Message);
                return 2;
            }
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List accounts and machine clients (never passwords or secrets).");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            using var host = Build(parse);
            using var scope = host.Services.CreateScope();
            var accounts = await scope.ServiceProvider.GetRequiredService<AccountService>().ListAsync(cancellationToken);
            var clients = await scope.ServiceProvider.GetRequiredService<ClientRegistry>().ListAllAsync(cancellationToken);
            var now = DateTimeOffset.UtcNow;

            await output.WriteLineAsync($"Accounts ({accounts.Count}):");
            foreach (var a in accounts)
            {
                var role = a.CommitteeRole is null ? "" : $"/{a.CommitteeRole}";
                var locked = a.LockoutUntil > now ? "  [locked]" : "";
                await output.WriteLineAsync($"  {a.Id}  {a.Kind.ToText() + role,-22} {a.Username,-24} {a.DisplayName}{locked}");
            }
            await output.WriteLineAsync($"Clients ({clients.Count}):");
            foreach (var c in clients)
            {
                await output.WriteLineAsync($"  {c.Kind.ToText(),-9} {c.ClientId,-28} {c.DisplayName}");
            }
            return 0;
        });
        return command;
    }

    private static IHost Build(ParseResult parse)
    {
        var host = CliHost.Build(parse, services => services.AddInfoBankIdentityStores());
        host.Services.GetRequiredService<Migrator>().Migrate();
        return host;
    }
}
