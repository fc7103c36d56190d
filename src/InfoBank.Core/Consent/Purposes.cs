namespace InfoBank.Core.Consent;

/// <summary>
/// The purposes a business may ask for, as W3C Data Privacy Vocabulary (DPV) purpose codes. The
/// applications branch keeps the full purpose list with PIA details in <c>pia/purposes.yaml</c>;
/// these are the codes an offer may carry, each with a short label in Japanese and English.
/// </summary>
public static class Purposes
{
    public const string ServiceProvision = "dpv:ServiceProvision";
    public const string ServiceOptimisation = "dpv:ServiceOptimisation";
    public const string ResearchAndDevelopment = "dpv:ResearchAndDevelopment";
    public const string AcademicResearch = "dpv:AcademicResearch";
    public const string Marketing = "dpv:Marketing";
    public const string PersonalisedBenefits = "dpv:ProvidePersonalisedRecommendations";
    public const string PublicBenefit = "dpv:PublicBenefit";

    public static readonly IReadOnlyDictionary<string, LocalizedText> Labels = new Dictionary<string, LocalizedText>(StringComparer.Ordinal)
    {
        [ServiceProvision] = new("サービスの提供", "Providing a service"),
        [ServiceOptimisation] = new("サービスの改善", "Improving a service"),
        [ResearchAndDevelopment] = new("研究開発", "Research and development"),
        [AcademicResearch] = new("学術研究", "Academic research"),
        [Marketing] = new("マーケティング", "Marketing"),
        [PersonalisedBenefits] = new("個人に合わせたおすすめ", "Personalised recommendations"),
        [PublicBenefit] = new("公共の利益", "Public benefit"),
    };

    public static bool IsKnown(string code) => Labels.ContainsKey(code);
}

/// <summary>
/// Data categories residents deposit, and which of them are special-care personal information
/// (要配慮個人情報, APPI Art. 2(3)): those can only be provided with consent that names them.
/// <c>pia/inventory.yaml</c> is the full inventory; this is the floor the consent ledger enforces.
/// </summary>
public static class DataCategories
{
    public const string StepsDaily = "steps.daily";
    public const string BodyComposition = "body.composition";
    public const string LocationVisit = "location.visit";
    public const string PurchaseItem = "purchase.item";
    public const string SearchQuery = "search.query";

    public static readonly IReadOnlySet<string> SpecialCare = new HashSet<string>(StringComparer.Ordinal) { BodyComposition };
}
