using InfoBank.Core.Rules;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Pia;

/// <summary>How directly a field can single out a person.</summary>
public static class Identifiability
{
    public const string Direct = "direct";
    public const string Quasi = "quasi";
    public const string None = "none";
}

public sealed record InventoryField(string Name, string Type, string Identifiability);

/// <summary>A data category: its fields, whether it is special-care (APPI Art. 2(3)) and how long a recipient may keep it.</summary>
public sealed record InventoryCategory(
    string Code,
    LocalizedText Title,
    bool SpecialCare,
    int MaxRetentionDays,
    IReadOnlyList<InventoryField> Fields)
{
    public InventoryField? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}

public sealed record DataInventory(IReadOnlyList<InventoryCategory> Categories)
{
    public InventoryCategory? Find(string code) => Categories.FirstOrDefault(c => c.Code == code);

    public static DataInventory Load(YamlFile file)
    {
        var root = file.RootMap();
        var categories = new List<InventoryCategory>();
        foreach (var node in file.Seq(file.Required(root, "categories"), "'categories'").Children)
        {
            var map = file.Map(node, "a category");
            var code = file.Str(map, "code");
            if (categories.Any(c => c.Code == code))
            {
                throw file.Error(map, $"category '{code}' is defined twice");
            }
            var fields = new List<InventoryField>();
            foreach (var fieldNode in file.Seq(file.Required(map, "fields"), "'fields'").Children)
            {
                var field = file.Map(fieldNode, "a field");
                var name = file.Str(field, "name");
                var identifiability = file.OptionalStr(field, "identifiability") ?? Identifiability.None;
                if (identifiability is not (Identifiability.Direct or Identifiability.Quasi or Identifiability.None))
                {
                    throw file.Error(field, $"identifiability of '{name}' must be direct, quasi or none");
                }
                if (fields.Any(f => f.Name == name))
                {
                    throw file.Error(field, $"field '{name}' is defined twice in '{code}'");
                }
                fields.Add(new InventoryField(name, file.Str(field, "type"), identifiability));
            }
            var retention = file.Int(map, "max_retention_days");
            if (retention < 1)
            {
                throw file.Error(map, "max_retention_days must be at least 1");
            }
            categories.Add(new InventoryCategory(code, file.Text(map, "title"), file.Bool(map, "special_care", false), retention, fields));
        }
        return new DataInventory(categories);
    }
}

/// <summary>A purpose from the vocabulary and, per category, the fields that purpose genuinely needs.</summary>
public sealed record PurposeDefinition(string Code, LocalizedText Title, IReadOnlyDictionary<string, IReadOnlyList<string>> NecessaryFields);

public sealed record PurposeCatalog(IReadOnlyList<PurposeDefinition> Purposes)
{
    public PurposeDefinition? Find(string? code) => Purposes.FirstOrDefault(p => p.Code == code);

    public static PurposeCatalog Load(YamlFile file, DataInventory inventory)
    {
        var root = file.RootMap();
        var purposes = new List<PurposeDefinition>();
        foreach (var node in file.Seq(file.Required(root, "purposes"), "'purposes'").Children)
        {
            var map = file.Map(node, "a purpose");
            var code = file.Str(map, "code");
            if (purposes.Any(p => p.Code == code))
            {
                throw file.Error(map, $"purpose '{code}' is defined twice");
            }
            var necessary = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            var necessaryMap = file.Map(file.Required(map, "necessary_fields"), "'necessary_fields'");
            foreach (var (keyNode, valueNode) in necessaryMap.Children)
            {
                var category = ((YamlScalarNode)keyNode).Value ?? "";
                var known = inventory.Find(category) ?? throw file.Error(keyNode, $"'{category}' is not a category in the data inventory");
                var fields = file.Seq(valueNode, $"the fields of '{category}'").Children
                    .Select(f => f is YamlScalarNode { Value: { } s } && known.Field(s) is not null
                        ? s : throw file.Error(f, $"'{(f as YamlScalarNode)?.Value}' is not a field of '{category}'"))
                    .ToList();
                necessary[category] = fields;
            }
            purposes.Add(new PurposeDefinition(code, file.Text(map, "title"), necessary));
        }
        return new PurposeCatalog(purposes);
    }
}
