import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.StoreDatabase;
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

    /** Opens each database as a `StoreDatabase`: documents kept as BSON, `_id` lookups from memory. */
    static final class StoreBackend extends H2Backend {
        StoreBackend(MVStore store) {
            super(store);  // opens the databases an earlier store wrote, moving their maps (see StoreDatabase)
            StoreDatabase.namesIn(store).forEach(this::resolveDatabase);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String name) {
            return new StoreDatabase(name, getMvStore(), getCursorRegistry());
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
        // than every 64 MB of changes. The page cache is 1 GB instead of 16 MB: with 256 MB, a second import of 20,000
        // contacts spent a sixth of the store's time reading back pages it had written moments before.
        MVStore mvStore = new MVStore.Builder()
                .fileName(args[2])
                .autoCommitBufferSize(64 * 1024)
                .cacheSize(Integer.getInteger("cdp.store.cacheMb", 1024))
                .open();
        H2Backend backend = new StoreBackend(mvStore);
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
