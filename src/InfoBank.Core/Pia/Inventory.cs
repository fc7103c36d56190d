using InfoBank.Core.Custody;
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

public sealed record PiaField(string Name, string Identifiability);

/// <summary>A category as the PIA sees it: special-care flag and retention from the custody inventory, plus identifiability.</summary>
public sealed record PiaCategory(string Code, string Description, bool SpecialCare, int MaxRetentionDays, IReadOnlyList<PiaField> Fields)
{
    public PiaField? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}

/// <summary>
/// The data inventory (<c>pia/inventory.yaml</c>, owned by custody) joined with
/// <c>pia/identifiability.yaml</c>, which says which fields identify a person directly or in
/// combination — the one thing the PIA needs that deposit validation does not.
/// </summary>
public sealed record PiaInventory(IReadOnlyList<PiaCategory> Categories)
{
    public PiaCategory? Find(string code) => Categories.FirstOrDefault(c => c.Code == code);

    public static PiaInventory Load(DataInventory inventory, YamlFile identifiability)
    {
        var classes = new Dictionary<(string, string), string>();
        foreach (var (categoryKey, fieldsNode) in identifiability.Map(identifiability.Required(identifiability.RootMap(), "categories"), "'categories'").Children)
        {
            var code = ((YamlScalarNode)categoryKey).Value ?? "";
            var category = inventory.Find(code) ?? throw identifiability.Error(categoryKey, $"'{code}' is not a category in pia/inventory.yaml");
            foreach (var (fieldKey, classNode) in identifiability.Map(fieldsNode, $"the fields of '{code}'").Children)
            {
                var field = ((YamlScalarNode)fieldKey).Value ?? "";
                if (!category.Fields.ContainsKey(field))
                {
                    throw identifiability.Error(fieldKey, $"'{field}' is not a field of '{code}' in pia/inventory.yaml");
                }
                var value = (classNode as YamlScalarNode)?.Value;
                if (value is not (Identifiability.Direct or Identifiability.Quasi or Identifiability.None))
                {
                    throw identifiability.Error(classNode, $"identifiability of '{code}.{field}' must be direct, quasi or none");
                }
                classes[(code, field)] = value;
            }
        }
        var categories = inventory.Categories.Values
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => new PiaCategory(c.Name, c.Description, c.SpecialCare, c.RetentionDays,
                c.Fields.Keys.Order(StringComparer.Ordinal)
                    .Select(f => new PiaField(f, classes.GetValueOrDefault((c.Name, f), Identifiability.None)))
                    .ToList()))
            .ToList();
        return new PiaInventory(categories);
    }
}

/// <summary>A purpose from the vocabulary and, per category, the fields that purpose genuinely needs.</summary>
public sealed record PurposeDefinition(string Code, LocalizedText Title, IReadOnlyDictionary<string, IReadOnlyList<string>> NecessaryFields);

public sealed record PurposeCatalog(IReadOnlyList<PurposeDefinition> Purposes)
{
    public PurposeDefinition? Find(string? code) => Purposes.FirstOrDefault(p => p.Code == code);

    public static PurposeCatalog Load(YamlFile file, PiaInventory inventory)
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
