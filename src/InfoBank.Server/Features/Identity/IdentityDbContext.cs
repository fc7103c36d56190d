using InfoBank.Server.Infrastructure.Db;
using Microsoft.EntityFrameworkCore;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// OpenIddict's EF Core stores (applications, authorizations, scopes, tokens): the one place the
/// project uses EF Core. It never creates tables: the schema comes from our DbUp migrations, which
/// were generated from this model, and a test checks the two still agree.
/// </summary>
public sealed class IdentityDbContext(DbContextOptions<IdentityDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.UseOpenIddict();
    }

    /// <summary>Points EF at the same database, through the same provider, as <see cref="DbConnectionFactory"/>.</summary>
    public static void Configure(DbContextOptionsBuilder options, DatabaseProvider provider, string connectionString)
    {
        _ = provider switch
        {
            DatabaseProvider.Sqlite => options.UseSqlite(connectionString),
            DatabaseProvider.Postgres => options.UseNpgsql(connectionString),
            DatabaseProvider.SqlServer => options.UseSqlServer(connectionString),
            _ => throw new InvalidOperationException($"Unknown database provider {provider}."),
        };
        options.UseOpenIddict();
    }
}
