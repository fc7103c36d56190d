using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace InfoBank.Core.Custody;

/// <summary>The type of one payload field, as the inventory names it.</summary>
public enum FieldType
{
    Integer,
    Number,
    String,
    Boolean,
}

/// <summary>One field of a category's payload, with the limits a deposit must respect.</summary>
public sealed record InventoryField(
    string Name,
    FieldType Type,
    bool Required,
    decimal? Min,
    decimal? Max,
    int? MaxLength,
    IReadOnlyList<string>? Values,
    string? Description);

/// <summary>One category of data the bank keeps (for example <c>steps.daily</c>).</summary>
public sealed record InventoryCategory(
    string Name,
    string Description,
    bool SpecialCare,
    int RetentionDays,
    IReadOnlyDictionary<string, InventoryField> Fields)
{
    public TimeSpan Retention => TimeSpan.FromDays(RetentionDays);

    /// <summary>
    /// The oldest observation time still kept at <paramref name="now"/>: a record observed before it
    /// is past retention, so it is neither stored, read, exported nor provided, and the retention job
    /// deletes it.
    /// </summary>
    public DateTimeOffset KeptFrom(DateTimeOffset now) => now - Retention;

    /// <summary>When a record observed at <paramref name="observedAt"/> leaves custody.</summary>
    public DateTimeOffset ExpiresAt(DateTimeOffset observedAt) => observedAt + Retention;
}

/// <summary>
/// The data inventory (<c>pia/inventory.yaml</c>): every category the bank keeps, its fields and
/// types, whether it is special-care personal information and its maximum retention. Deposits are
/// validated against it, and PIA rules and applications refer to its names.
/// </summary>
public sealed class DataInventory
{
    private const string EmbeddedName = "InfoBank.Core.Custody.inventory.yaml";

    private DataInventory(int version, FrozenDictionary<string, InventoryCategory> categories, string contentHash)
    {
        Version = version;
        Categories = categories;
        ContentHash = contentHash;
    }

    public int Version { get; }

    public IReadOnlyDictionary<string, InventoryCategory> Categories { get; }

    /// <summary><c>sha256:</c> and the hex SHA-256 of the file's bytes, for audit entries and PIA reports.</summary>
    public string ContentHash { get; }

    public InventoryCategory? Find(string category) => Categories.GetValueOrDefault(category);

    /// <summary>The inventory shipped with this build (<c>pia/inventory.yaml</c>, embedded at compile time).</summary>
    public static DataInventory Default { get; } = LoadEmbedded();

    public static DataInventory Load(string path) => Parse(File.ReadAllBytes(path));

    /// <summary>Parses and checks an inventory; a malformed one throws <see cref="InventoryException"/> naming the problem.</summary>
    public static DataInventory Parse(byte[] yaml)
    {
        var hash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(yaml));
        InventoryFile file;
        try
        {
            var deserializer = new DeserializerBuilder()
                .WithNamingConvention(CamelCaseNamingConvention.Instance)
                .Build();
            using var reader = new StreamReader(new MemoryStream(yaml));
            file = deserializer.Deserialize<InventoryFile?>(reader) ?? throw new InventoryException("The inventory is empty.");
        }
        catch (YamlException e)
        {
            throw new InventoryException($"The inventory is not valid YAML at line {e.Start.Line}: {e.Message}");
        }

        if (file.Categories is not { Count: > 0 })
        {
            throw new InventoryException("The inventory lists no categories.");
        }
        var categories = new Dictionary<string, InventoryCategory>(StringComparer.Ordinal);
        foreach (var (name, category) in file.Categories)
        {
            categories.Add(name, ToCategory(name, category));
        }
        return new DataInventory(file.Version, categories.ToFrozenDictionary(StringComparer.Ordinal), hash);
    }

    private static InventoryCategory ToCategory(string name, CategoryEntry entry)
    {
        if (entry.RetentionDays is not > 0)
        {
            throw new InventoryException($"Category {name}: retentionDays must be a positive number of days.");
        }
        if (entry.Fields is not { Count: > 0 })
        {
            throw new InventoryException($"Category {name}: no fields.");
        }
        var fields = new Dictionary<string, InventoryField>(StringComparer.Ordinal);
        foreach (var (fieldName, field) in entry.Fields)
        {
            var type = field.Type switch
            {
                "integer" => FieldType.Integer,
                "number" => FieldType.Number,
                "string" => FieldType.String,
                "boolean" => FieldType.Boolean,
                _ => throw new InventoryException($"Category {name}, field {fieldName}: unknown type '{field.Type}' (integer, number, string or boolean)."),
            };
            if (field.Min is { } min && field.Max is { } max && min > max)
            {
                throw new InventoryException($"Category {name}, field {fieldName}: min is greater than max.");
            }
            if ((field.Min is not null || field.Max is not null) && type is not (FieldType.Integer or FieldType.Number))
            {
                throw new InventoryException($"Category {name}, field {fieldName}: min and max apply to numbers only.");
            }
            if ((field.MaxLength is not null || field.Values is not null) && type is not FieldType.String)
            {
                throw new InventoryException($"Category {name}, field {fieldName}: maxLength and values apply to strings only.");
            }
            fields.Add(fieldName, new InventoryField(fieldName, type, field.Required, field.Min, field.Max, field.MaxLength, field.Values, field.Description));
        }
        return new InventoryCategory(name, entry.Description ?? "", entry.SpecialCare, entry.RetentionDays.Value, fields.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static DataInventory LoadEmbedded()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(EmbeddedName)
            ?? throw new InvalidOperationException($"The embedded inventory {EmbeddedName} is missing from the build.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray());
    }

    // YamlDotNet fills these by reflection; unknown keys in the file are an error, so a typo cannot hide.
    private sealed class InventoryFile
    {
        public int Version { get; set; }

        public Dictionary<string, CategoryEntry>? Categories { get; set; }
    }

    private sealed class CategoryEntry
    {
        public string? Description { get; set; }

        public bool SpecialCare { get; set; }

        public int? RetentionDays { get; set; }

        public Dictionary<string, FieldEntry>? Fields { get; set; }
    }

    private sealed class FieldEntry
    {
        public string? Type { get; set; }

        public bool Required { get; set; }

        public decimal? Min { get; set; }

        public decimal? Max { get; set; }

        public int? MaxLength { get; set; }

        public List<string>? Values { get; set; }

        public string? Description { get; set; }
    }
}

public sealed class InventoryException(string message) : Exception(message);
