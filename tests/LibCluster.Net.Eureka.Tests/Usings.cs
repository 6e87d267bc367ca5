global using LibCluster.Eureka.Tests.Support;
