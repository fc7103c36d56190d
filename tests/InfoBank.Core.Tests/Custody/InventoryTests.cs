using System.Text;
using System.Text.Json;
using InfoBank.Core.Custody;

namespace InfoBank.Core.Tests.Custody;

public sealed class InventoryTests
{
    private static readonly DataInventory Inventory = DataInventory.Default;

    [Fact]
    public void Embedded_inventory_lists_the_domain_categories()
    {
        Assert.Equal(
            ["body.composition", "location.visit", "purchase.item", "search.query", "steps.daily"],
            Inventory.Categories.Keys.Order(StringComparer.Ordinal));
        Assert.True(Inventory.Find("body.composition")!.SpecialCare);
        Assert.False(Inventory.Find("steps.daily")!.SpecialCare);
        Assert.All(Inventory.Categories.Values, c => Assert.True(c.RetentionDays > 0));
        Assert.StartsWith("sha256:", Inventory.ContentHash);
    }

    [Fact]
    public void Embedded_inventory_is_the_file_in_pia()
    {
        var path = FindRepoFile("pia/inventory.yaml");
        Assert.Equal(DataInventory.Load(path).ContentHash, Inventory.ContentHash);
    }

    [Theory]
    [InlineData("""{"steps": 8000}""")]
    [InlineData("""{"steps": 0, "distanceMeters": 5210.5, "activeMinutes": 42}""")]
    public void Valid_steps_pass(string json)
    {
        var errors = new List<FieldError>();
        Assert.True(PayloadValidator.Validate(Inventory.Find("steps.daily")!, Parse(json), "p", errors));
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("""{"steps": -1}""", "p.steps", "below the minimum")]
    [InlineData("""{"steps": 200001}""", "p.steps", "above the maximum")]
    [InlineData("""{"steps": 12.5}""", "p.steps", "integer")]
    [InlineData("""{"steps": "8000"}""", "p.steps", "integer")]
    [InlineData("""{"steps": 1, "stpes": 2}""", "p.stpes", "Unknown field")]
    [InlineData("""{"distanceMeters": 10}""", "p.steps", "required")]
    [InlineData("""[1, 2]""", "p", "JSON object")]
    [InlineData("""null""", "p", "JSON object")]
    public void Invalid_steps_name_the_field(string json, string path, string message)
    {
        var errors = new List<FieldError>();
        Assert.False(PayloadValidator.Validate(Inventory.Find("steps.daily")!, Parse(json), "p", errors));
        var error = Assert.Single(errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Strings_respect_length_and_closed_lists()
    {
        var visit = Inventory.Find("location.visit")!;
        var errors = new List<FieldError>();
        Assert.True(PayloadValidator.Validate(visit, Parse("""{"placeId": "odori-b2", "ward": "Chuo"}"""), "p", errors));
        Assert.False(PayloadValidator.Validate(visit, Parse("""{"placeId": "odori-b2", "ward": "Shibuya"}"""), "p", errors));
        Assert.False(PayloadValidator.Validate(visit, Parse($$"""{"placeId": "{{new string('x', 65)}}"}"""), "p", errors));
        Assert.False(PayloadValidator.Validate(visit, Parse("""{"placeId": 12}"""), "p", errors));
        Assert.Equal(["p.ward", "p.placeId", "p.placeId"], errors.Select(e => e.Path));
    }

    [Fact]
    public void Duplicate_members_are_refused()
    {
        var errors = new List<FieldError>();
        Assert.False(PayloadValidator.Validate(Inventory.Find("steps.daily")!, Parse("""{"steps": 1, "steps": 2}"""), "p", errors));
        Assert.Equal("p.steps", Assert.Single(errors).Path);
    }

    [Theory]
    [InlineData("version: 1\ncategories: {}\n", "no categories")]
    [InlineData("version: 1\ncategories:\n  a:\n    retentionDays: 0\n    fields:\n      x: {type: integer}\n", "retentionDays")]
    [InlineData("version: 1\ncategories:\n  a:\n    retentionDays: 1\n    fields:\n      x: {type: decimal}\n", "unknown type")]
    [InlineData("version: 1\ncategories:\n  a:\n    retentionDays: 1\n    fields:\n      x: {type: integer, min: 5, max: 1}\n", "min is greater")]
    [InlineData("version: 1\ncategories:\n  a:\n    retentionDays: 1\n    feilds:\n      x: {type: integer}\n", "not valid YAML")]
    public void Malformed_inventory_is_refused_with_a_reason(string yaml, string message)
    {
        var error = Assert.Throws<InventoryException>(() => DataInventory.Parse(Encoding.UTF8.GetBytes(yaml)));
        Assert.Contains(message, error.Message);
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    internal static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException(relative);
    }
}
