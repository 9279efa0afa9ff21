package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

import java.lang.reflect.Field;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A database of the local document store (deploy/local/store.sh): the library's H2 database with
 * - each collection a `StoreCollection`, its documents kept as BSON (`BsonDocuments`) in `bson.databases.<db>.<coll>`;
 * - each unique index's keys ordered without serialising them (`IndexKeys`), in `keys.<db>.<collection>._index_<name>`;
 * - the `_id` index answered from memory (`IdIndex`).
 * A map an earlier store wrote under the library's name is copied into its new map the first time the collection or
 * index is opened, and then removed: a data file written before these changes opens with everything in it.
 */
public final class StoreDatabase extends H2Database {
    private static final String DOCUMENTS = "bson.";
    private static final String KEYS = "keys.";
    private static final Field STORE;

    static {
        try {
            STORE = H2Database.class.getDeclaredField("mvStore");
            STORE.setAccessible(true);
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public StoreDatabase(String name, MVStore mvStore, CursorRegistry cursorRegistry) {
        super(name, mvStore, cursorRegistry);
    }

    /** The databases whose collections this class wrote to the store. */
    public static Set<String> namesIn(MVStore store) {
        return store.getMapNames().stream()
                .filter(name -> name.startsWith(DOCUMENTS + DATABASES_PREFIX))
                .map(name -> Utils.firstFragment(name.substring((DOCUMENTS + DATABASES_PREFIX).length())))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The library's constructor opens the collections before a field of this class could be set; read its own. */
    private MVStore mvStore() {
        try {
            return (MVStore) STORE.get(this);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private <K, V> MVMap<K, V> open(String prefix, String name, MVMap.Builder<K, V> builder, Function<Object, V> moved) {
        MVStore store = mvStore();
        MVMap<K, V> map = store.openMap(prefix + name, builder);
        if (store.hasMap(name)) {
            MVMap<K, Object> legacy = store.openMap(name);
            for (Map.Entry<K, Object> e : legacy.entrySet()) {
                map.put(e.getKey(), moved.apply(e.getValue()));
            }
            store.removeMap(legacy);
        }
        return map;
    }

    private void remove(String prefix, String name) {
        MVStore store = mvStore();
        if (store.hasMap(prefix + name)) {
            store.removeMap(prefix + name);
        }
    }

    private static String indexMap(String fullCollectionName, String index) {
        return fullCollectionName + "._index_" + index;  // the library's name for the index's map
    }

    @Override
    protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
        String fullName = getFullCollectionNamespace(collectionName);
        MVMap<Object, BsonDocuments.Stored> documents = open(DOCUMENTS, DATABASES_PREFIX + fullName,
                new MVMap.Builder<Object, BsonDocuments.Stored>().valueType(new BsonDocuments()),
                document -> new BsonDocuments.Stored((Document) document));
        MVMap<String, Object> meta = mvStore().openMap("meta." + fullName);
        return new StoreCollection(this, collectionName, options, documents, meta, cursorRegistry);
    }

    @Override
    protected Index<Object> openOrCreateUniqueIndex(
            String collection, String index, List<IndexKey> keys, boolean sparse) {
        MVMap<KeyValue, Object> map = open(KEYS, indexMap(getFullCollectionNamespace(collection), index),
                new MVMap.Builder<KeyValue, Object>().keyType(new IndexKeys()), position -> position);
        return IdIndex.of(map, index, keys, sparse);
    }

    @Override
    protected void dropIndex(MongoCollection<Object> collection, String indexName) {
        super.dropIndex(collection, indexName);
        remove(KEYS, indexMap(collection.getFullName(), indexName));
    }

    @Override
    public void dropCollection(String collectionName, Oplog oplog) {
        super.dropCollection(collectionName, oplog);
        remove(DOCUMENTS, DATABASES_PREFIX + getFullCollectionNamespace(collectionName));
    }

    @Override
    public void moveCollection(MongoDatabase oldDatabase, MongoCollection<?> collection, String newCollectionName) {
        String oldName = DOCUMENTS + DATABASES_PREFIX + collection.getFullName();
        super.moveCollection(oldDatabase, collection, newCollectionName);
        MVStore store = mvStore();
        if (store.hasMap(oldName)) {
            store.renameMap(store.openMap(oldName),
                    DOCUMENTS + DATABASES_PREFIX + getFullCollectionNamespace(newCollectionName));
        }
    }
}
