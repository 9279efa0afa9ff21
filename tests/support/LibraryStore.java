import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import java.util.List;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

/**
 * mongo-java-server's H2 backend exactly as the library ships it, so a test can write a data file the way the local
 * store wrote it before deploy/local/store changed its format, and check the store opens it with everything in it.
 * Usage: java -cp STORE_CLASSPATH LibraryStore.java HOST PORT DATA_FILE
 */
public final class LibraryStore {
    public static void main(String[] args) throws Exception {
        H2Backend backend = new H2Backend(args[2]);
        backend.version(new MongoVersion() {  // announced as the local store does, for current PyMongo
            @Override public List<Integer> getVersionArray() { return List.of(4, 4, 0); }
            @Override public int getWireVersion() { return 9; }
        });
        MongoServer server = new MongoServer(backend);
        server.bind(args[0], Integer.parseInt(args[1]));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            backend.close();
        }));
        System.out.println("library store listening");
        Thread.currentThread().join();
    }
}
