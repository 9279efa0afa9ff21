import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.KeyConstraintError;
import org.h2.mvstore.MVStore;
import java.util.List;

/**
 * Starts a MongoDB-wire-protocol server backed by an H2 MVStore file, for hosts without Docker.
 * Usage: java -cp CLASSPATH DocumentStoreServer.java HOST PORT DATA_FILE
 * It announces wire version 9 (MongoDB 4.4), the oldest that current PyMongo accepts; the library's own newest
 * constant announces 8. What the platform may use of the server is written down in docs/store-contract.md and
 * tested against it.
 */
public final class DocumentStoreServer {
    private static final MongoVersion ANNOUNCED = new MongoVersion() {
        @Override public List<Integer> getVersionArray() { return List.of(4, 4, 0); }
        @Override public int getWireVersion() { return 9; }
    };

    /**
     * The library answers a query from an index only when the query names exactly the index's fields: `{_id: x}`
     * uses the `_id` index, `{_id: x, "wm.p0": 5}` reads every document of the collection. MongoDB and FerretDB
     * use the index for both. This backend does too: a query holding an `_id` equality or `$in` takes its candidates
     * from the `_id` index, and the library then checks each candidate against the whole query, as it does for
     * every indexed query.
     */
    static final class IdFirstBackend extends H2Backend {
        IdFirstBackend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String name) {
            return new H2Database(name, getMvStore(), getCursorRegistry()) {
                @Override
                protected Index<Object> openOrCreateUniqueIndex(
                        String collection, String index, List<IndexKey> keys, boolean sparse) {
                    Index<Object> found = super.openOrCreateUniqueIndex(collection, index, keys, sparse);
                    boolean byId = keys.size() == 1 && keys.get(0).getKey().equals("_id") && !sparse;
                    return byId ? new IdFirst(found, index, keys) : found;
                }
            };
        }
    }

    static final class IdFirst extends Index<Object> {
        private final Index<Object> index;

        IdFirst(Index<Object> index, String name, List<IndexKey> keys) {
            super(name, keys, false);
            this.index = index;
        }

        private static Document idPart(Document query) {
            Document part = new Document();
            part.put("_id", query.get("_id"));
            return part;
        }

        @Override public boolean canHandle(Document query) {
            return index.canHandle(query) || (query.containsKey("_id") && index.canHandle(idPart(query)));
        }

        @Override public Iterable<Object> getPositions(Document query) {
            return index.getPositions(index.canHandle(query) ? query : idPart(query));
        }

        @Override public Object getPosition(Document document) { return index.getPosition(document); }
        @Override public void checkAdd(Document document, MongoCollection<Object> c) { index.checkAdd(document, c); }
        @Override public void add(Document document, Object position, MongoCollection<Object> c) {
            index.add(document, position, c);
        }
        @Override public Object remove(Document document) { return index.remove(document); }
        @Override public long getCount() { return index.getCount(); }
        @Override public long getDataSize() { return index.getDataSize(); }
        @Override public void checkUpdate(Document old, Document changed, MongoCollection<Object> c) {
            index.checkUpdate(old, changed, c);
        }
        @Override public void updateInPlace(Document old, Document changed, Object position, MongoCollection<Object> c)
                throws KeyConstraintError {
            index.updateInPlace(old, changed, position, c);
        }
        @Override public void drop() { index.drop(); }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: DocumentStoreServer HOST PORT DATA_FILE");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        // MVStore.open's defaults commit whenever 1 MB of changes is pending, so a bulk write of a few MB rewrote the
        // same B-tree pages several times per second. Commits still happen at least every second (the default
        // delay, unchanged: no more acknowledged writes are at risk on a crash than before), but no more often
        // than every 64 MB of changes; the page cache is 256 MB instead of 16.
        MVStore mvStore = new MVStore.Builder()
                .fileName(args[2])
                .autoCommitBufferSize(64 * 1024)
                .cacheSize(256)
                .open();
        H2Backend backend = new IdFirstBackend(mvStore);
        backend.version(ANNOUNCED);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        System.out.println("document store listening on " + host + ":" + port + " file=" + args[2]);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // Stop accepting, then flush and close the MVStore so a SIGTERM never loses acknowledged writes.
            server.shutdownNow();
            backend.close();
            System.out.println("document store stopped");
        }));
        Thread.currentThread().join();
    }
}
