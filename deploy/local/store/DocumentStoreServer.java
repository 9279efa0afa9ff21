import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.h2.IdIndex;
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

    /** Opens each collection's `_id` index as an `IdIndex` (see there: lookups from memory, `_id`-first queries). */
    static final class IdIndexBackend extends H2Backend {
        IdIndexBackend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String name) {
            return new H2Database(name, getMvStore(), getCursorRegistry()) {
                @Override
                protected Index<Object> openOrCreateUniqueIndex(
                        String collection, String index, List<IndexKey> keys, boolean sparse) {
                    Index<Object> created = super.openOrCreateUniqueIndex(collection, index, keys, sparse);
                    try {
                        return IdIndex.of(created, index, keys, sparse);
                    } catch (Exception e) {
                        throw new IllegalStateException("cannot open the _id index of " + collection, e);
                    }
                }
            };
        }
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
        H2Backend backend = new IdIndexBackend(mvStore);
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
