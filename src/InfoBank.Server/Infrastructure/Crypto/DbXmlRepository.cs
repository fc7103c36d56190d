using System.Xml.Linq;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>
/// Stores the DataProtection key ring in our own database, so that all nodes share it and a
/// backup of the database restores the keys needed to read it. DataProtection's repository API is
/// synchronous; it is called rarely (start-up and key roll-over), so sync I/O is acceptable here.
/// </summary>
public sealed class DbXmlRepository(DbConnectionFactory db, TimeProvider time) : IXmlRepository
{
    private const string SelectAll = "SELECT xml FROM dataprotection_keys ORDER BY created_at, friendly_name";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = db.Open();
        return connection.Query<string>(SelectAll).Select(XElement.Parse).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        var insert = db.Dialect.InsertIgnoringDuplicates(
            "dataprotection_keys", ["friendly_name", "xml", "created_at"], ["friendly_name"]);
        using var connection = db.Open();
        connection.Execute(insert, new
        {
            friendly_name = friendlyName,
            xml = element.ToString(SaveOptions.DisableFormatting),
            created_at = time.GetUtcNow(),
        });
    }
}
