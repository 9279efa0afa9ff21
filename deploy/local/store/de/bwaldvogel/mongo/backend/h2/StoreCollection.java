package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractSynchronizedMongoCollection;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.Assert;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DocumentWithPosition;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.oplog.Oplog;
import org.h2.mvstore.MVMap;

import java.util.Collection;
import java.util.HashSet;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A collection of the local document store (deploy/local/store.sh): the library's H2 collection, with
 * - each document in the file as BSON, encoded once per change (`BsonDocuments.Stored`), not again at every commit
 *   that rewrites a page it shares with changed documents;
 * - `{_id: {$in: [...]}}` checked against a hash set of the ids: the library compared every candidate with every
 *   listed id, so a write naming 1,000 contacts by id made half a million comparisons (twice for an update, which
 *   is therefore applied id by id);
 * - no running total of the documents' BSON size: the library encoded every document once more on each insert and
 *   twice on each update to keep it, for `collStats` alone, which the platform does not read.
 */
public final class StoreCollection extends AbstractSynchronizedMongoCollection<Object> {
    private static final String DATA_SIZE_KEY = "dataSize";  // the library's key, so sizes carry over

    private final MVMap<Object, BsonDocuments.Stored> dataMap;
    private final MVMap<String, Object> metaMap;
    /** The `$in` list last seen and its set: the matcher asks once per candidate with the same query. One field,
     *  so a reader on another thread never pairs one list with another's set. */
    private record IdSet(Collection<?> listed, Set<Object> ids) {}

    private volatile IdSet last;

    StoreCollection(MongoDatabase database, String name, CollectionOptions options,
                    MVMap<Object, BsonDocuments.Stored> dataMap, MVMap<String, Object> metaMap,
                    CursorRegistry cursorRegistry) {
        super(database, name, options, cursorRegistry);
        this.dataMap = dataMap;
        this.metaMap = metaMap;
        this.metaMap.putIfAbsent(DATA_SIZE_KEY, Long.valueOf(0));
    }

    @Override
    protected boolean tracksDataSize() {
        return false;
    }

    @Override
    protected void updateDataSize(int sizeDelta) {
        // not tracked (see above): the library calls this only when `tracksDataSize` is true
    }

    @Override
    protected int getDataSize() {
        return ((Number) metaMap.get(DATA_SIZE_KEY)).intValue();
    }

    @Override
    protected Object addDocumentInternal(Document document) {
        Object key = getIdField() != null ? Utils.getSubdocumentValue(document, getIdField()) : UUID.randomUUID();
        BsonDocuments.Stored previous = dataMap.put(Missing.ofNullable(key), new BsonDocuments.Stored(document));
        Assert.isNull(previous, () -> "Document with key '" + key + "' already existed in " + this);
        return key;
    }

    @Override
    public int count() {
        return dataMap.size();
    }

    @Override
    public boolean isEmpty() {
        return dataMap.isEmpty();
    }

    @Override
    protected Document getDocument(Object position) {
        BsonDocuments.Stored stored = dataMap.get(position);
        return stored == null ? null : stored.document();
    }

    @Override
    protected void removeDocument(Object position) {
        if (dataMap.remove(position) == null) {
            throw new NoSuchElementException("No document with key " + position);
        }
    }

    @Override
    protected Stream<DocumentWithPosition<Object>> streamAllDocumentsWithPosition() {
        return dataMap.entrySet().stream()
                .map(entry -> new DocumentWithPosition<>(entry.getValue().document(), entry.getKey()));
    }

    @Override
    protected QueryResult matchDocuments(Document query, Document orderBy, int numberToSkip, int limit, int batchSize,
                                         Document fieldSelector) {
        Stream<Document> documents;
        if (isNaturalDescending(orderBy)) {
            documents = streamAllDocumentsWithPosition()
                    .sorted((a, b) -> ValueComparator.desc().compare(a.getPosition(), b.getPosition()))
                    .map(DocumentWithPosition::getDocument);
        } else {
            documents = dataMap.values().stream().map(BsonDocuments.Stored::document);
        }
        return matchDocumentsFromStream(documents, query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
    }

    @Override
    protected void handleUpdate(Object position, Document oldDocument, Document newDocument) {
        dataMap.put(Missing.ofNullable(position), new BsonDocuments.Stored(newDocument));
    }

    @Override
    public synchronized Document updateDocuments(Document selector, Document update, ArrayFilters arrayFilters,
                                                 boolean multi, boolean upsert, Oplog oplog) {
        Set<Object> ids = idSet(selector);
        if (ids == null || selector.size() != 1 || !multi || upsert) {
            return super.updateDocuments(selector, update, arrayFilters, multi, upsert, oplog);
        }
        int matched = 0;
        int modified = 0;
        for (Object id : ids) {
            Document one = super.updateDocuments(new Document("_id", id), update, arrayFilters, false, false, oplog);
            matched += ((Number) one.get("n")).intValue();
            modified += ((Number) one.get("nModified")).intValue();
        }
        Document result = new Document();
        result.put("n", Integer.valueOf(matched));
        result.put("nModified", Integer.valueOf(modified));
        return result;
    }

    @Override
    protected boolean documentMatchesQuery(Document document, Document query) {
        Set<Object> ids = idSet(query);
        if (ids == null) {
            return super.documentMatchesQuery(document, query);
        }
        if (!ids.contains(document.get("_id"))) {
            return false;
        }
        if (query.size() == 1) {
            return true;
        }
        Document rest = new Document(query);
        rest.remove("_id");
        return super.documentMatchesQuery(document, rest);
    }

    /** The ids of `{_id: {$in: [...]}}` when they are all strings or object ids (compared by equals, as MongoDB
     *  compares them); null for any other query, which the library's matcher checks as it always did. */
    private Set<Object> idSet(Document query) {
        if (!(query.get("_id") instanceof Document condition) || condition.size() != 1
                || !(condition.get("$in") instanceof Collection<?> listed) || listed.size() < 8) {
            return null;
        }
        IdSet seen = last;
        if (seen != null && seen.listed() == listed) {
            return seen.ids();
        }
        Set<Object> ids = new HashSet<>(listed.size() * 2);
        for (Object id : listed) {
            if (!(id instanceof String) && !(id instanceof ObjectId)) {
                return null;
            }
            ids.add(id);
        }
        last = new IdSet(listed, ids);
        return ids;
    }
}
