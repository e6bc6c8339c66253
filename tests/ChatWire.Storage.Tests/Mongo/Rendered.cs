using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;

namespace ChatWire.Storage.Tests.Mongo;

/// <summary>
/// Renders what the MongoDB store would send, as the driver renders it for the wire, and compares it with
/// expected documents written as canonical extended JSON (so an Int32 and an Int64, or a date and a
/// number, never compare equal). Key order is compared too: it is significant in index keys and sorts.
/// </summary>
internal static class Rendered
{
    private static readonly JsonWriterSettings Canonical = new() { OutputMode = JsonOutputMode.CanonicalExtendedJson };

    private static RenderArgs<BsonDocument> Args => new(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry);

    public static BsonDocument Of(FilterDefinition<BsonDocument> filter) => filter.Render(Args);

    public static BsonDocument Of(UpdateDefinition<BsonDocument> update) => update.Render(Args).AsBsonDocument;

    public static BsonDocument Of(SortDefinition<BsonDocument> sort) => sort.Render(Args);

    public static BsonDocument Of(ProjectionDefinition<BsonDocument> projection) => projection.Render(Args);

    public static BsonDocument Of(ProjectionDefinition<BsonDocument, BsonDocument> projection) => projection.Render(Args).Document;

    public static BsonArray Of(PipelineDefinition<BsonDocument, BsonDocument> pipeline) => new(pipeline.Render(Args).Documents);

    /// <summary>An update-one model as the <c>update</c> command's statement carries it.</summary>
    public static BsonDocument Of(UpdateOneModel<BsonDocument> model) => new()
    {
        { "q", Of(model.Filter) },
        { "u", Of(model.Update) },
        { "upsert", model.IsUpsert },
    };

    public static void AssertJson(string expected, BsonValue actual)
    {
        var parsed = BsonSerializer.Deserialize<BsonDocument>("{ \"v\" : " + expected + " }")["v"];
        Assert.Equal(ToJson(parsed), ToJson(actual));
    }

    private static string ToJson(BsonValue value) => new BsonDocument("v", value).ToJson(Canonical);
}
